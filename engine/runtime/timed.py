"""Reading the leads and cases a lifecycle timer may concern: those still waiting for one.

A record that overstayed a watched state gets its supervision letter (or its ``fire`` move)
once per stay, keyed ``<campaign>:timer:<timer>:<kind>:<id>:<day it entered the state>``. Many
records sit in a watched state long after that letter went out; reading all of them every day
would make the tick grow with the records stored. So the query builds each timer's key in SQL
from the record's own row and keeps only records with a timer whose key is not yet among the
letters (a point lookup in the letters' unique key index). The planner then applies each
timer exactly, on these few.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)

from engine.runtime.timers import TimedRecord, timers_of
from engine.spec.loader import Definition, per_definition
from engine.store.tables import RECORD_TABLES, letters


def campaign_moment(definition: Definition, at: datetime) -> datetime:
    """``at`` as an aware moment: a naive time is a wall-clock time in the campaign's zone
    (what staff typed), never UTC, wherever it is read or stored."""
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo(definition.campaign.timezone))


def campaign_day(definition: Definition, at: datetime) -> date:
    """The calendar day ``at`` falls on in the campaign's time zone."""
    return campaign_moment(definition, at).astimezone(ZoneInfo(definition.campaign.timezone)).date()


def local_day(moment: datetime | date, tz: ZoneInfo) -> date:
    """The campaign-local day of a stored timestamp (SQLite hands back naive UTC)."""
    if not isinstance(moment, datetime):
        return moment
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(tz).date()


def _fixed_offset(tz: ZoneInfo) -> timedelta | None:
    """The zone's UTC offset if it is the same all through 2000-2040, else None."""
    seen = {tz.utcoffset(datetime(year, month, 1)) for year in range(2000, 2041)
            for month in (1, 4, 7, 10)}
    return seen.pop() if len(seen) == 1 else None


def _entered_on(dialect: str, column: ColumnElement[datetime], tz: ZoneInfo,
                ) -> ColumnElement[str] | None:
    """SQL for ``local_day(column).isoformat()``, or None where the dialect cannot say it
    (SQLite, for a zone with daylight saving time: its stored times are naive UTC)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone(tz.key, column), "YYYY-MM-DD")
    offset = _fixed_offset(tz)
    if offset is None:
        return None
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


def _probe(dialect: str, lookup: Select[Any]) -> Select[Any]:
    """``lookup``, kept a lookup per record in ``NOT EXISTS``.

    PostgreSQL would pull the subquery up into an anti join, and at the national benchmark's
    size it chose to hash every letter ever written (42k rows): 56 ms in this query instead of
    about 18, and growing with the history. ``OFFSET 0``, PostgreSQL's traditional
    optimisation fence, keeps it a subplan probing the letters' unique index once per record
    (the planner leaves an ``EXISTS`` with an offset alone: ``simplify_EXISTS_query``).
    SQLite looks up per record anyway."""
    return lookup.offset(0) if dialect == "postgresql" else lookup


Query = tuple[str, str, int, Select[Any]]
"""(kind, state, shortest timer in days, the query taking ``cutoff``)."""


@per_definition
def _queries(definition: Definition) -> dict[str, list[Query]]:
    return {}


def _queries_for(definition: Definition, dialect: str) -> list[Query]:
    """The timed-record queries of a definition, built once per dialect: building them (an
    alias, casts, a subquery per timer) cost more than running them."""
    built = _queries(definition)
    if dialect in built:
        return built[dialect]
    c = definition.campaign
    tz = ZoneInfo(c.timezone)
    watched: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for kind, _, timer in timers_of(definition):
        watched.setdefault((kind, timer.state), []).append(
            (timer.after_days, f"{c.id}:timer:{timer.id}:{kind}:"))
    out: list[Query] = []
    for (kind, state), timers in watched.items():
        table = RECORD_TABLES[kind]
        entered = _entered_on(dialect, table.c.state_since, tz)
        # the day it entered the state, as the key's text: from SQL where SQL can say it
        # (not a timestamp parsed and moved to the zone in Python, 2 µs a record), else
        # the timestamp, converted by local_day
        day = table.c.state_since if entered is None else entered.label("entered")
        columns = (table.c.id, table.c.natural_key, table.c.body_id, day)
        if entered is not None and len(timers) == 1:
            # the filter below leaves only records whose one timer has not acted
            query = select(*columns, null().label("idempotency_key"))
        else:  # which of the state's timers have acted, on each record
            query = select(*columns, letters.c.idempotency_key).outerjoin(letters, and_(
                letters.c.record_kind == kind, letters.c.record_id == table.c.id,
                letters.c.kind.in_(("supervision", "fire"))))
        query = query.where(
            table.c.campaign_id == c.id, table.c.state == state,
            table.c.state_since < bindparam("cutoff", type_=table.c.state_since.type))
        if entered is not None:  # only records with a timer still to act on
            tail = cast(table.c.id, String) + literal(":") + entered
            done = letters.alias("done")
            query = query.where(or_(*(~_probe(dialect, select(done.c.id).where(
                done.c.idempotency_key == literal(prefix) + tail)).exists()
                for _, prefix in timers)))
        out.append((kind, state, min(d for d, _ in timers), query))
    built[dialect] = out
    return out


def timed_records(conn: Connection, definition: Definition, today: date,
                  ) -> tuple[list[TimedRecord], set[str]]:
    """Leads and cases in a timed state long enough for its shortest timer, with a timer
    not acted on yet for this stay; and the keys of the timer letters already recorded about
    them (a state may have several timers, some acted on).

    One query per watched state, through the ``(campaign, state, state_since)`` index with a
    calendar-day cutoff, which never excludes a record a working-day timer would catch
    (working days are at least as long)."""
    tz = ZoneInfo(definition.campaign.timezone)
    out: list[TimedRecord] = []
    keys: set[str] = set()
    for kind, state, days, query in _queries_for(definition, conn.dialect.name):
        cutoff = datetime.combine(today - timedelta(days=days - 1), time(), tz)
        seen: set[int] = set()
        for rid, ref, body, since, key in conn.execute(query, {"cutoff": cutoff}).all():
            if key is not None:
                keys.add(key)
            if rid not in seen:  # a record with several letters comes once per letter
                seen.add(rid)
                day = date.fromisoformat(since) if isinstance(since, str) else \
                    local_day(since, tz)
                out.append(TimedRecord(kind, rid, ref, state, body, day))
    return out, keys
