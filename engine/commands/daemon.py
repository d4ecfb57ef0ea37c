"""``campaign daemon``: the daily tick on a schedule, until SIGTERM.

A thin shell over :mod:`engine.runtime.daemon`: parse the schedule, open the store, send the
log to stderr (plain lines, or one JSON object a line for a log collector), run.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from engine.clitypes import SafePath
from engine.commands.records import DB, fail, open_store
from engine.letters.channels import FileChannel, parse_formats
from engine.runtime import daemon as runtime
from engine.store.db import resolve_url, safe_url

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname, "logger": record.name,
                "message": record.getMessage(), **getattr(record, "fields", {})}
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(fmt: str) -> None:
    """The daemon's lines at INFO, everyone else's (APScheduler, SQLAlchemy) from WARNING on:
    a missed-run warning from the scheduler is worth seeing, its per-run chatter is not."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("engine").setLevel(logging.INFO)


@click.command("daemon")
@click.option("--at", "at", metavar="HH:MM",
              help=f"Tick every day at this time (default {runtime.DEFAULT_AT}).")
@click.option("--cron", metavar='"m h dom mon dow"',
              help="Tick on this crontab schedule instead (weekday 0 or 7 = Sunday).")
@click.option("--timezone", default=runtime.DEFAULT_TIMEZONE, show_default=True,
              help="Time zone of the schedule and of the tick's clock.")
@click.option("--log-format", "log_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Log lines on stderr: plain text or one JSON object each.")
@click.option("--outbox", type=SafePath(file_okay=False, path_type=Path),
              help="Also deliver each tick's letters into this folder.")
@click.option("--formats", default="md", show_default=True,
              help="File formats written with --outbox: md,html,docx,pdf.")
@DB
def daemon(at: str | None, cron: str | None, timezone: str, log_format: str,
           outbox: Path | None, formats: str, db_url: str | None) -> None:
    """Run the daily tick on a schedule until SIGTERM or SIGINT (exit 0).

    The schedule is kept in the same database (table scheduler_jobs); after downtime, one
    catch-up tick runs at start-up, not one per missed day.
    """
    try:
        trigger = runtime.schedule(at, cron, timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    channel = FileChannel(outbox, parse_formats(formats)) if outbox is not None else None
    store = open_store(db_url)
    configure_logging(log_format)
    try:
        runtime.run(store, trigger, channel)
    except SQLAlchemyError as exc:  # the job store could not be read or written
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        fail(f"调度失败（数据库 {safe_url(resolve_url(db_url))}）：{reason}")
