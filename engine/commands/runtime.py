"""``campaign run`` and ``campaign submit``: the daily tick and the fulfilment of obligations."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path

import click

from engine.clitypes import SafePath, at_moment
from engine.commands.records import DB, fail, open_store
from engine.letters.channels import FileChannel, parse_formats
from engine.letters.delivery import deliver
from engine.runtime.tick import NothingLoaded, TickFailure, record_submission, run_campaigns
from engine.store.db import StoreError


@click.command("run")
@click.option("--at", "at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
              help="Run as of this moment (default now, Asia/Shanghai).")
@click.option("--campaign", "only", multiple=True, help="Only this campaign (repeatable).")
@click.option("--dry-run", is_flag=True, help="Plan and report, write nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--outbox", type=SafePath(file_okay=False, path_type=Path),
              help="Also deliver the letters waiting to go out into this folder.")
@click.option("--formats", default="md", show_default=True,
              help="File formats written with --outbox: md,html,docx,pdf.")
@DB
def run(at: datetime | None, only: tuple[str, ...], dry_run: bool, fmt: str,
        outbox: Path | None, formats: str, db_url: str | None) -> None:
    """One tick over every loaded campaign: remind, chase, escalate, exactly once."""
    try:
        channel = FileChannel(outbox, parse_formats(formats)) if outbox else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--formats") from None
    store = open_store(db_url)
    try:
        outcomes = run_campaigns(store, at_moment(at), only, dry_run=dry_run)
    except NothingLoaded as exc:
        fail(str(exc))
        return
    for outcome in outcomes:
        if isinstance(outcome, TickFailure):
            click.echo(f"{outcome.campaign}：{outcome.message}", err=True)
        elif fmt == "json":
            click.echo(json.dumps({"campaign": outcome.campaign, "date": outcome.day.isoformat(),
                                   "sent": outcome.sent, "skipped": outcome.skipped,
                                   "owing": outcome.owing, "phase": outcome.phase,
                                   "fired": outcome.fired, "dry_run": dry_run},
                                  ensure_ascii=False))
        else:
            verb = "将发" if dry_run else "新发"
            where = f"{outcome.day.isoformat()}，{outcome.phase_name}"
            click.echo(f"{outcome.campaign}（{where}）：{verb}文书 {outcome.sent} 份"
                       f"，跳过 {outcome.skipped} 份，逾期未报 {outcome.owing} 项")
    failed = any(isinstance(o, TickFailure) for o in outcomes)
    if channel is not None and not dry_run:
        results = [deliver(store, channel, campaign=c) for c in (only or (None,))]
        for error in [e for r in results for e in r.errors][:20]:
            click.echo(error, err=True)
        sent, retrying, lost = (sum(getattr(r, n) for r in results)
                                for n in ("sent", "retrying", "failed"))
        click.echo(f"已投递 {sent} 份到 {outbox}，待重试 {retrying} 份，失败 {lost} 份",
                   err=fmt == "json")  # stdout stays one JSON object per campaign
        failed = failed or lost > 0
    sys.exit(1 if failed else 0)


@click.command("submit")
@click.option("--campaign", required=True)
@click.option("--report", required=True)
@click.option("--body", required=True)
@click.option("--period", default="", help="The month a recurring report covers, e.g. 2017-09.")
@click.option("--file", "file_", type=SafePath(exists=True, dir_okay=False, path_type=Path))
@click.option("--count", type=click.IntRange(min=0), help="Items reported (towards a quota).")
@click.option("--at", "at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]))
@click.option("--actor", required=True)
@DB
def submit(campaign: str, report: str, body: str, period: str, file_: Path | None,
           count: int | None, at: datetime | None, actor: str, db_url: str | None) -> None:
    """Record that a body fulfilled an obligation (on time or late)."""
    store = open_store(db_url)
    digest = hashlib.sha256(file_.read_bytes()).hexdigest() if file_ else None
    try:
        on_time = record_submission(store, campaign, report, body, period, actor=actor,
                                    at=at_moment(at), item_count=count,
                                    file_name=file_.name if file_ else None, file_sha256=digest)
    except (LookupError, StoreError) as exc:
        fail(str(exc))
        return
    click.echo(f"已登记 {body} 报送 {report}{'（' + period + '）' if period else ''}："
               f"{'按时' if on_time else '逾期'}")
