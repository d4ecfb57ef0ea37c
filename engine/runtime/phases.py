"""The campaign-level state machine: a campaign moves through its phases by date.

The dates give a timeline of stretches, each in one phase (see :func:`phase_order`); the
states are ``pending``, those stretches in order, and ``closed`` after the campaign's period.
A phase whose window holds another's (组织实施 all autumn, 动员部署 in its first days) is
entered again once the inner one ends, so one phase may give two stretches. One
``transitions.Machine`` per timeline (built once, as for lead and case lifecycles) checks that
every move is a step forward; the tick walks it from the stored stretch (phase and the day it
was entered) to the one the date calls for, recording each step, so a run after downtime
still records every phase the campaign passed through, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise

from transitions import Machine, MachineError

from engine.spec.dates import phase_stretches
from engine.spec.loader import Definition, per_definition

PENDING, CLOSED = "pending", "closed"


@dataclass(frozen=True, slots=True)
class PhaseStep:
    """One move of the campaign from a phase to the next, on the day it happened.

    ``corrected`` marks the step that puts right a stored phase the current timeline does
    not have on its stored day (an amendment, or a changed rule, moved it): the audit trail
    must not claim the dates moved the campaign there."""

    source: str
    dest: str
    day: date
    corrected: bool = False


@per_definition
def phase_order(definition: Definition) -> tuple[tuple[str, date], ...]:
    """The campaign's timeline of stretches (see :func:`engine.spec.dates.phase_stretches`),
    built once per definition."""
    return phase_stretches(definition.campaign)


def _stretch_on(definition: Definition, day: date) -> int:
    """The index in :func:`phase_order` of the stretch ``day`` falls in; -1 before any."""
    index = -1
    for i, (_, entered) in enumerate(phase_order(definition)):
        if entered <= day:
            index = i
    return index


def phase_on(definition: Definition, day: date) -> str:
    """The state the campaign is in on ``day``: a phase, pending or closed."""
    if day > definition.campaign.period.end:
        return CLOSED
    index = _stretch_on(definition, day)
    return PENDING if index < 0 else phase_order(definition)[index][0]


def phase_name(definition: Definition, state: str) -> str:
    """The Chinese name of a campaign state, for summaries."""
    names = {PENDING: "未开始", CLOSED: "已结束"}
    names.update((p.id, p.name) for p in definition.campaign.phases)
    return names.get(state, state)


class _Cursor:
    """The campaign as the machine sees it: only a state (the machine is shared)."""

    def __init__(self, state: str) -> None:
        self.state = state


@lru_cache(maxsize=64)
def _machine(states: tuple[str, ...]) -> Machine:
    return Machine(model=None, states=list(states), initial=states[0], auto_transitions=False,
                   transitions=[{"trigger": "advance", "source": a, "dest": b}
                                for a, b in pairwise(states)])


def advance(definition: Definition, current: str, day: date,
            since: date | None = None) -> list[PhaseStep]:
    """The steps from ``current`` (entered on ``since``, as stored) to the state ``day``
    calls for (none if already there); a campaign never moves backwards, but for the
    correction below.

    The stored stretch is the one the timeline has on ``since`` (or, for a row stored
    without it, the last of that phase begun by ``day``). Where that stretch is not of the
    stored phase (an amendment removed or moved it, earlier or later, or the rule that orders
    the stretches changed), the phase is first corrected to it, as a step of its own dated
    ``since``, and the walk goes on from there. A run with an earlier ``--at`` than
    ``since`` leaves the stored phase alone."""
    order = phase_order(definition)
    period = definition.campaign.period
    names = (PENDING, *(pid for pid, _ in order), CLOSED)  # index 0, stretches 1..n, closed
    entered = (period.start, *(d for _, d in order), period.end + timedelta(days=1))
    target = len(names) - 1 if day > period.end else _stretch_on(definition, day) + 1
    steps = []
    if current == CLOSED:
        at = len(names) - 1
    elif current == PENDING:
        at = 0
    elif since is not None:
        if day < since:
            return []
        at = _stretch_on(definition, since) + 1
        if names[at] != current:  # not where it was stored: correct it first, then walk on
            steps.append(PhaseStep(current, names[at], since, corrected=True))
    else:
        ours = [i for i, (pid, _) in enumerate(order, 1) if pid == current]
        begun = [i for i in ours if entered[i] <= day]
        at = begun[-1] if begun else ours[0] if ours else 0  # ahead of ``day``: an earlier --at
    if target <= at:
        return steps
    machine, cursor = _machine(tuple(str(i) for i in range(len(names)))), _Cursor(str(at))
    while cursor.state != str(target):
        source = int(cursor.state)
        try:
            machine.events["advance"].trigger(cursor)  # type: ignore[no-untyped-call]
        except MachineError:  # cannot happen for a forward walk; stop rather than loop
            break
        dest = int(cursor.state)
        steps.append(PhaseStep(names[source], names[dest], entered[dest]))
    return steps
