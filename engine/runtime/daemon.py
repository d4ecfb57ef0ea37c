"""``campaign daemon``: the daily tick on a cron schedule, remembered in the store's own database.

APScheduler 3.x runs the tick; its ``SQLAlchemyJobStore`` lives in the same database as the
campaigns (table ``scheduler_jobs``), so a restarted daemon knows when it last meant to run and
there is no second database to back up. The choices that make it safe to restart at any time:

* ONE job with a fixed id, replaced at every start, so a changed ``--at``/``--cron`` takes effect
  and a restart never adds a second copy.
* The job names :func:`scheduled_tick` by text and has no arguments. Job state is pickled into
  the database, and the database URL may carry a password; the running process keeps the store
  in a module-level holder instead.
* ``coalesce=True`` with ``misfire_grace_time=None``: however many days the daemon was down, the
  missed runs collapse into exactly one catch-up tick. One is enough: the planner supersedes
  stale letters (a tick ten days behind sends only what is still relevant), and ticks are
  idempotent, so a repeated one inserts nothing twice.
* ``replace_existing=True`` alone would lose that catch-up: APScheduler computes the replaced
  job's next run from *now*. :func:`install_job` reads the stored next run first and carries an
  overdue one over to the replacement.

Library code: it logs (``engine.daemon``) and never prints.
"""

from __future__ import annotations

import logging
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import inspect, select

from engine.letters.channels import Channel
from engine.letters.delivery import deliver
from engine.runtime.tick import NothingLoaded, TickFailure, run_campaigns
from engine.store.db import Store, safe_url

JOB_ID = "campaign-tick"
JOB_TABLE = "scheduler_jobs"
JOB_FUNC = "engine.runtime.daemon:scheduled_tick"
DEFAULT_AT = "08:30"
DEFAULT_TIMEZONE = "Asia/Shanghai"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
POLL_SECONDS = 0.2
"""How often the main thread looks whether a signal asked it to stop."""

log = logging.getLogger("engine.daemon")


@dataclass(frozen=True)
class _Process:
    """What the persisted job needs but must not persist: the open store and the time zone."""

    store: Store
    timezone: tzinfo
    channel: Channel | None = None  # deliver each tick's letters too (campaign daemon --outbox)


_process: _Process | None = None


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a log call: machine-readable fields the JSON log format writes out."""
    return {"fields": values}


# --- the schedule -----------------------------------------------------------------------------

_AT = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone: {name}") from None


def _crontab_day(token: str) -> int:
    if token in _DAYS:
        return _DAYS.index(token)
    if token.isdigit() and int(token) <= 7:
        return int(token)
    raise ValueError(f"bad day of week in cron expression: {token!r}")


def crontab_weekdays(field: str) -> str:
    """A standard crontab day-of-week field (0 or 7 = Sunday) spelled as APScheduler day names.

    APScheduler 3.x numbers Monday 0, even in ``from_crontab`` (a documented historical mistake,
    fixed only in 4.x), so ``1-5`` would run Tuesday to Saturday. Names mean the same to both."""
    field = field.strip().lower()
    if field in {"*", "?"}:
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 0
        if step_text and step < 1:
            raise ValueError(f"bad step in cron expression: {part!r}")
        if span == "*":
            first, last = 0, 6
        else:
            start, _, end = span.partition("-")
            first = _crontab_day(start)
            last = _crontab_day(end) if end else (6 if step_text else first)
        if last < first:
            raise ValueError(f"backwards range in cron expression: {part!r}")
        days.update(day % 7 for day in range(first, last + 1, step or 1))
    if len(days) == 7:
        return "*"
    return ",".join(_DAYS[day] for day in sorted(days))


def schedule(at: str | None = None, cron: str | None = None,
             timezone: str = DEFAULT_TIMEZONE) -> CronTrigger:
    """The tick's trigger: daily at ``at`` (HH:MM, default 08:30), or a crontab expression
    ("m h dom mon dow", standard weekday numbers), in ``timezone``. Raises ValueError."""
    tz = zone(timezone)
    if cron is not None:
        if at is not None:
            raise ValueError("give either a daily time or a cron expression, not both")
        parts = cron.split()
        if len(parts) != 5:
            raise ValueError(f"a cron expression has 5 fields (m h dom mon dow), got {cron!r}")
        parts[4] = crontab_weekdays(parts[4])
        return CronTrigger.from_crontab(" ".join(parts), timezone=tz)
    match = _AT.fullmatch((at or DEFAULT_AT).strip())
    if match is None:
        raise ValueError(f"not a time of day (HH:MM): {at!r}")
    return CronTrigger(hour=int(match[1]), minute=int(match[2]), timezone=tz)


# --- the job ------------------------------------------------------------------------------------

def scheduled_tick() -> None:
    """The persisted job: one tick over every loaded campaign, as ``campaign run`` does.

    Never raises: a failed tick is logged and the daemon lives on to the next one. Every call
    ends with exactly one ``event=tick`` log line, which is how a tick is counted."""
    process = _process
    if process is None:  # called outside a running daemon: there is no store to use
        log.error("tick skipped: no store is open (the job only runs inside campaign daemon)",
                  extra=fields(event="tick", status="error"))
        return
    at = datetime.now(process.timezone)
    when = at.isoformat(timespec="seconds")
    try:
        outcomes = run_campaigns(process.store, at)
    except NothingLoaded as exc:
        log.warning("tick at %s: nothing to do: %s", when, exc,
                    extra=fields(event="tick", status="empty", at=when))
        return
    except Exception as exc:  # the database went away, a bug: keep the schedule alive
        log.exception("tick at %s failed: %s", when, exc,
                      extra=fields(event="tick", status="error", at=when))
        return
    failed = 0
    for outcome in outcomes:
        if isinstance(outcome, TickFailure):
            failed += 1
            log.error("campaign %s failed: %s", outcome.campaign, outcome.message,
                      extra=fields(event="campaign", campaign=outcome.campaign, status="error",
                                   message=outcome.message))
        else:
            log.info("campaign %s (%s, %s): sent %d, skipped %d, owing %d, moved %d",
                     outcome.campaign, outcome.day.isoformat(), outcome.phase, outcome.sent,
                     outcome.skipped, outcome.owing, outcome.fired,
                     extra=fields(event="campaign", campaign=outcome.campaign, status="ok",
                                  day=outcome.day.isoformat(), phase=outcome.phase,
                                  sent=outcome.sent, skipped=outcome.skipped,
                                  owing=outcome.owing, fired=outcome.fired))
    if process.channel is not None:
        _deliver(process)
    log.log(logging.WARNING if failed else logging.INFO,
            "tick at %s done: %d campaign(s), %d failed", when, len(outcomes), failed,
            extra=fields(event="tick", status="failed" if failed else "ok", at=when,
                         campaigns=len(outcomes), failed=failed))


def _deliver(process: _Process) -> None:
    """Send what the tick recorded; a failed letter is logged and retried on a later tick."""
    assert process.channel is not None
    try:
        result = deliver(process.store, process.channel)
    except Exception as exc:  # the tick's letters stay recorded; the next tick tries again
        log.exception("delivery failed: %s", exc, extra=fields(event="delivery", status="error"))
        return
    for error in result.errors:
        log.warning("letter not delivered: %s", error,
                    extra=fields(event="delivery", status="failed", message=error))
    log.info("delivered %d, retrying %d, failed %d, uncertain %d", result.sent,
             result.retrying, result.failed, result.uncertain,
             extra=fields(event="delivery", status="ok", sent=result.sent,
                          retrying=result.retrying, failed=result.failed,
                          uncertain=result.uncertain))


# --- the scheduler ------------------------------------------------------------------------------

def job_store(store: Store) -> SQLAlchemyJobStore:
    """The job store on the store's own engine: same database, no URL handed to APScheduler."""
    return SQLAlchemyJobStore(engine=store.engine, tablename=JOB_TABLE)


def stored_next_run(jobs: SQLAlchemyJobStore) -> datetime | None:
    """When the persisted job was next due, read from its indexed column without unpickling
    anything; None when there is no table, no job, or the job is paused."""
    table = jobs.jobs_t
    with jobs.engine.connect() as conn:
        if not inspect(conn).has_table(table.name, schema=table.schema):
            return None
        stamp = conn.scalar(select(table.c.next_run_time).where(table.c.id == JOB_ID))
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


def install_job(scheduler: BackgroundScheduler, jobs: SQLAlchemyJobStore,
                trigger: CronTrigger) -> datetime | None:
    """Put the one tick job, on ``trigger``, in place of any stored one (before start).

    A stored run already due is carried over as the new job's next run, so the scheduler sees
    it as missed and, coalescing, runs one catch-up tick at once. Returns that run time."""
    due = stored_next_run(jobs)
    overdue = due if due is not None and due <= datetime.now(UTC) else None
    carry = {"next_run_time": overdue} if overdue is not None else {}
    scheduler.add_job(JOB_FUNC, trigger=trigger, id=JOB_ID, name="campaign tick",
                      jobstore="default", replace_existing=True, coalesce=True,
                      misfire_grace_time=None, max_instances=1, **carry)
    return overdue


def build_scheduler(store: Store, trigger: CronTrigger) -> tuple[BackgroundScheduler,
                                                                  datetime | None]:
    """A scheduler over the store's database with the tick job installed (not yet started);
    also returns the missed run it will catch up on, if any. One worker: ticks never overlap."""
    jobs = job_store(store)
    scheduler = BackgroundScheduler(jobstores={"default": jobs},
                                    executors={"default": ThreadPoolExecutor(max_workers=1)},
                                    timezone=trigger.timezone)
    return scheduler, install_job(scheduler, jobs, trigger)


@contextmanager
def stop_signals() -> Iterator[list[str]]:
    """SIGTERM and SIGINT, while inside, only record their name in the yielded list.

    The handler runs on the main thread between bytecodes, possibly while that thread holds a
    lock; appending to a list takes none, so it cannot deadlock. The previous handlers return
    on exit. Must be entered on the main thread."""
    received: list[str] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, note) for sig in STOP_SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(store: Store, trigger: CronTrigger, channel: Channel | None = None) -> str:
    """Run the daemon until SIGTERM or SIGINT; returns the signal's name.

    Stopping waits for a running tick to finish (its transaction commits or rolls back as a
    whole) before the scheduler and its job store shut down."""
    global _process
    with stop_signals() as received:
        scheduler, overdue = build_scheduler(store, trigger)
        _process = _Process(store, trigger.timezone, channel)
        try:
            scheduler.start()
            try:
                _started(store, trigger, overdue)
                while not received:
                    time.sleep(POLL_SECONDS)
                log.info("%s received: stopping once a running tick has finished", received[0],
                         extra=fields(event="stopping", signal=received[0]))
            finally:
                scheduler.shutdown(wait=True)
        finally:
            _process = None
    log.info("daemon stopped (%s)", received[0],
             extra=fields(event="stopped", signal=received[0]))
    return received[0]


def describe(trigger: CronTrigger) -> str:
    """``cron[...] Asia/Shanghai``: APScheduler's own rendering plus the zone it leaves out."""
    return f"{trigger} {trigger.timezone}"


def _started(store: Store, trigger: CronTrigger, overdue: datetime | None) -> None:
    next_run = trigger.get_next_fire_time(None, datetime.now(trigger.timezone))
    shown = next_run.isoformat() if next_run else "never"
    log.info("daemon started: database %s, schedule %s, next run %s, job in table %s",
             safe_url(store.url), describe(trigger), shown, JOB_TABLE,
             extra=fields(event="started", database=safe_url(store.url),
                          schedule=describe(trigger), next_run=shown, table=JOB_TABLE))
    if overdue is not None:
        log.info("missed the run due at %s while stopped: one catch-up tick now",
                 overdue.astimezone(trigger.timezone).isoformat(),
                 extra=fields(event="catch-up", missed=overdue.isoformat()))
