"""Lifecycle timers: a record left too long in a state gets a supervision letter, or is moved.

Pure, like the rest of the planner: the records a timer may concern come in (the store selects
them through its ``(campaign, state, state_since)`` index), letters and moves go out. A timer
fires once per stay in its state: the key carries the day the record entered the state, so a
lead that leaves and comes back is timed afresh, and a rerun finds the key already recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from engine.spec.loader import Definition, per_definition
from engine.spec.model import Lifecycle, Timer
from engine.spec.workdays import shift


class TimedRecord(NamedTuple):
    """What a timer needs to know of a lead or case (a tuple: a national tick builds
    thousands of them, at a third of a frozen dataclass's cost)."""

    kind: str  # "lead" | "case"
    id: int
    ref: str  # the record number staff know it by (natural key)
    state: str
    body: str | None  # the body handling it
    since: date  # the day it entered ``state``, in the campaign's time zone


@dataclass(frozen=True, slots=True)
class TimerMove:
    """A ``fire`` timer: the lifecycle trigger to apply to a record that overstayed."""

    key: str
    record: TimedRecord
    trigger: str
    timer: str


def timers_of(definition: Definition) -> Iterator[tuple[str, Lifecycle, Timer]]:
    lifecycles = definition.campaign.lifecycles
    if lifecycles is None:
        return
    for kind in ("lead", "case"):
        life = getattr(lifecycles, kind)
        for timer in life.timers if life is not None else ():
            yield kind, life, timer


def timer_due(timer: Timer, since: date) -> date:
    """The day a record that entered the timer's state on ``since`` has overstayed."""
    return shift(since, timer.after_days, timer.calendar)


def timer_key(campaign: str, timer: Timer, record: TimedRecord) -> str:
    return f"{campaign}:timer:{timer.id}:{record.kind}:{record.id}:{record.since.isoformat()}"


@per_definition
def _watching(definition: Definition) -> dict[tuple[str, str], list[tuple[Timer, str]]]:
    """(kind, state) -> the timers watching it, each with its key's prefix (see timer_key).

    The prefix names the record kind as well as the timer: a lead timer and a case timer may
    share an id (ids are unique within a lifecycle), so it is the prefix, not the id, that
    tells one timer from another."""
    out: dict[tuple[str, str], list[tuple[Timer, str]]] = {}
    for kind, _, timer in timers_of(definition):
        out.setdefault((kind, timer.state), []).append(
            (timer, f"{definition.campaign.id}:timer:{timer.id}:{kind}:"))
    return out


def overstayed(definition: Definition, records: Iterable[TimedRecord], recorded: Set[str],
               today: date) -> Iterator[tuple[Timer, TimedRecord, str, date]]:
    """Every (timer, record, key, day its time was up) due on ``today`` and not yet acted on.

    Called on every record in a watched state, most of them acted on already, so the keys
    are built from per-timer prefixes rather than by :func:`timer_key` each time; and a
    timer's day is worked out once per day a record entered the state (a national tick's 700
    records entered on a few dozen days)."""
    watching = _watching(definition)
    days: dict[tuple[str, date], date] = {}  # (the timer's prefix, since) -> its day
    for record in records:
        timers = watching.get((record.kind, record.state))
        if not timers:
            continue
        since = record.since
        tail = f"{record.id}:{since.isoformat()}"
        for timer, prefix in timers:
            key = prefix + tail
            if key in recorded:
                continue
            if (due := days.get((prefix, since))) is None:
                due = days[(prefix, since)] = timer_due(timer, since)
            if due <= today:
                yield timer, record, key, due
