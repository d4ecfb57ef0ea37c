"""The campaign-level state machine: a campaign moves through its phases by date.

States are ``pending``, the dated top-level phases in order of their start, and ``closed``
after the campaign's period. One ``transitions.Machine`` per definition (built once, as for
lead and case lifecycles) checks that every move is a step forward; the tick walks it from the
stored phase to the one the date calls for, recording each step, so a run after downtime
still records every phase the campaign passed through, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise

from transitions import Machine, MachineError

from engine.spec.loader import Definition

PENDING, CLOSED = "pending", "closed"


@dataclass(frozen=True, slots=True)
class PhaseStep:
    """One move of the campaign from a phase to the next, on the day it happened."""

    source: str
    dest: str
    day: date


def phase_order(definition: Definition) -> tuple[tuple[str, date], ...]:
    """The dated top-level phases as (id, start), in order; undated phases have no place."""
    dated = [(p.id, p.window.start) for p in definition.campaign.phases if p.window is not None]
    return tuple(sorted(dated, key=lambda item: item[1]))


def phase_on(definition: Definition, day: date) -> str:
    """The state the campaign is in on ``day``: the latest phase begun, pending or closed."""
    c = definition.campaign
    if day > c.period.end:
        return CLOSED
    current = PENDING
    for phase_id, start in phase_order(definition):
        if start <= day:
            current = phase_id
    return current


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


def advance(definition: Definition, current: str, day: date) -> list[PhaseStep]:
    """The steps from ``current`` to the state ``day`` calls for (none if already there).

    A stored phase the definition no longer has (an amendment dropped it) restarts the walk
    from ``pending``; a campaign never moves backwards."""
    order = phase_order(definition)
    period = definition.campaign.period
    start_of = {PENDING: period.start, CLOSED: period.end + timedelta(days=1), **dict(order)}
    states = (PENDING, *(pid for pid, _ in order), CLOSED)
    target = phase_on(definition, day)
    if current not in states:
        current = PENDING
    if states.index(target) <= states.index(current):
        return []
    machine, cursor = _machine(states), _Cursor(current)
    steps = []
    while cursor.state != target:
        source = cursor.state
        try:
            machine.events["advance"].trigger(cursor)  # type: ignore[no-untyped-call]
        except MachineError:  # cannot happen for a forward walk; stop rather than loop
            break
        steps.append(PhaseStep(source, cursor.state, start_of[cursor.state]))
    return steps
