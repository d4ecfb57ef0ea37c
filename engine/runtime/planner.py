"""The planner: (obligations, state snapshot, today) -> the letters to send or record as skipped,
and the lifecycle moves of ``fire`` timers.

Pure and deterministic, so ``campaign run``, ``campaign simulate`` and the tests share it and
simulation cannot drift from production. Each letter has an idempotency key (obligation, kind,
step); a key once recorded (sent or skipped) is never planned again, so a rerun or a second
runner cannot send a letter twice. After days without a run, only the latest letter of each
series is sent; the ones it supersedes are recorded as skipped instead of flooding a body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Literal, NamedTuple

from engine.runtime.obligations import Obligation
from engine.runtime.timers import TimedRecord, TimerMove, overstayed
from engine.spec.dates import all_phases
from engine.spec.loader import Definition
from engine.spec.workdays import shift

Kind = Literal["phase_start", "reminder", "overdue", "escalation", "supervision"]


class Letter(NamedTuple):
    """A letter the planner wants sent (``status="send"``) or recorded as superseded.

    A tuple: a national tick plans a thousand of them, and a frozen dataclass's ``__init__``
    (one ``object.__setattr__`` per field) cost 4 ms of it; this costs a fifth."""

    key: str
    kind: Kind
    campaign: str
    recipient: str
    scheduled: date
    status: Literal["send", "skip"] = "send"
    report: str | None = None
    body: str | None = None  # the body that owes (differs from recipient for escalation)
    period: str | None = None
    due: date | None = None
    shortfall: int | None = None
    phase: str | None = None
    record: TimedRecord | None = None  # the lead or case a supervision letter is about
    timer: str | None = None
    obligation: str | None = None  # the obligation's key, for letters about one
    step: int = 0
    title: str | None = None  # what is owed, when it is not a report of the definition


@dataclass(frozen=True)
class Snapshot:
    """What the planner needs to know of the world: what was recorded, what was submitted."""

    recorded: Set[str] = frozenset()
    submitted: Mapping[str, date] = field(default_factory=dict)  # obligation key -> day
    counts: Mapping[str, int] = field(default_factory=dict)  # obligation key -> items reported
    timed: Sequence[TimedRecord] = ()  # leads and cases in a state some timer watches


def owing(ob: Obligation, snap: Snapshot) -> bool:
    """Still owed: not submitted, or submitted below its quota."""
    if ob.key not in snap.submitted:
        return True
    return ob.quota is not None and snap.counts.get(ob.key, 0) < ob.quota


def shortfall(ob: Obligation, snap: Snapshot) -> int | None:
    if ob.quota is None:
        return None
    return max(ob.quota - snap.counts.get(ob.key, 0), 0)


Scheduled = tuple[str, Kind, int, date, str, str]
"""(series, kind, step, day, recipient, letter key) of one letter an obligation may need."""


@lru_cache(maxsize=1 << 18)
def schedule(ob: Obligation) -> tuple[Scheduled, ...]:
    """Every letter an obligation may ever need, computed once per obligation: a daily tick
    over tens of thousands of obligations otherwise recomputes the same dates every day.

    Day counts are calendar or working days as the policy says; a working-day count raises
    :class:`CalendarYearUnknown` for a year the installed calendar does not know."""
    p = ob.policy
    count = p.calendar or "calendar_days"
    out: list[tuple[str, Kind, int, date, str]] = []
    for days in sorted(set(p.before_due or ()), reverse=True):
        out.append(("before", "reminder", days, shift(ob.due, -days, count), ob.body))
    first = shift(ob.due, max(p.overdue_after or 1, 1), count)
    out.append(("after", "overdue", 0, first, ob.body))
    for step in range(1, (p.max_repeats or 0) + 1):
        out.append(("after", "overdue", step,
                    shift(first, step * (p.repeat_every or 7), count), ob.body))
    if p.escalate_after is not None and ob.superior is not None:
        # a body whose superior is the very office it reports to is pressed by that office
        # directly (督办), not asked to press itself
        to = ob.body if ob.superior == ob.recipient else ob.superior
        out.append(("escalation", "escalation", 0,
                    shift(ob.due, max(p.escalate_after, 1), count), to))
    return tuple((*item, f"{ob.key}:{item[1]}:{item[2]}") for item in out)


@lru_cache(maxsize=1 << 18)
def first_letter_day(ob: Obligation) -> date:
    """The earliest day anything of this obligation can be due: before it, it costs nothing."""
    p = ob.policy
    return shift(ob.due, -max(p.before_due or (0,)), p.calendar or "calendar_days")


def plan_obligation(ob: Obligation, snap: Snapshot, today: date) -> list[Letter]:
    if not owing(ob, snap):
        return []
    pending: dict[str, list[Scheduled]] = {}
    for item in schedule(ob):
        if item[3] <= today and item[5] not in snap.recorded:
            pending.setdefault(item[0], []).append(item)
    letters = []
    for series, items in pending.items():
        items.sort(key=lambda it: it[3])
        latest = items[-1]
        stale = series == "before" and today > ob.due  # a reminder after the deadline is moot
        for item in items:
            _, kind, step, day, recipient, key = item
            status = "send" if item is latest and not stale else "skip"
            letters.append(Letter(key, kind, ob.campaign, recipient, day,
                                  status, ob.report, ob.body, ob.period or None, ob.due,
                                  shortfall(ob, snap), obligation=ob.key, step=step,
                                  title=ob.title))
    return letters


def plan_phases(definition: Definition, snap: Snapshot, today: date) -> list[Letter]:
    """A deployment notice to each body a phase names, once, while the phase runs."""
    c, index = definition.campaign, definition.bodies
    letters = []
    for phase in all_phases(c.phases):
        if phase.notify is None or phase.window is None or phase.window.start > today:
            continue
        for body in index.select(phase.notify):
            key = f"{c.id}:phase:{phase.id}:{body.id}"
            if key in snap.recorded:
                continue
            status = "send" if today <= phase.window.end else "skip"
            letters.append(Letter(key, "phase_start", c.id, body.id, phase.window.start, status,
                                  phase=phase.id))
    return letters


def plan_timers(definition: Definition, snap: Snapshot, today: date,
                ) -> tuple[list[Letter], list[TimerMove]]:
    """For each lead or case that overstayed a watched state: a supervision letter to the body
    handling it (``supervise``) or to that body's superior (``escalate``), or the lifecycle
    trigger of a ``fire`` timer. One pass over the timed records for both."""
    letters: list[Letter] = []
    moves: list[TimerMove] = []
    index, cid = definition.bodies, definition.campaign.id
    for timer, record, key, due in overstayed(definition, snap.timed, snap.recorded, today):
        if timer.action == "fire":
            if timer.trigger is not None:
                moves.append(TimerMove(key, record, timer.trigger, timer.id))
            continue
        if record.body is None or record.body not in index:
            continue
        recipient: str | None = record.body
        if timer.action == "escalate":
            superior = index.superior(record.body)
            recipient = superior.id if superior else None
        if recipient is None:
            continue
        letters.append(Letter(key, "supervision", cid, recipient, due, body=record.body,
                              record=record, timer=timer.id))
    return letters, moves


class DayPlan(NamedTuple):
    """What a day brings: the letters, in a stable order, and the ``fire`` moves."""

    letters: list[Letter]
    moves: list[TimerMove]


def plan_day(definition: Definition, obligations: Iterable[Obligation], snap: Snapshot,
             today: date) -> DayPlan:
    """Everything to do on ``today``: what ``campaign run`` records and ``simulate`` shows."""
    supervision, moves = plan_timers(definition, snap, today)
    letters = plan_phases(definition, snap, today) + supervision
    for ob in obligations:
        if first_letter_day(ob) > today:
            continue  # nothing of this obligation is due yet
        letters.extend(plan_obligation(ob, snap, today))
    return DayPlan(sorted(letters, key=lambda lt: (lt.scheduled, lt.kind, lt.key)), moves)


def plan(definition: Definition, obligations: Iterable[Obligation], snap: Snapshot,
         today: date) -> list[Letter]:
    """The letters of :func:`plan_day`."""
    return plan_day(definition, obligations, snap, today).letters
