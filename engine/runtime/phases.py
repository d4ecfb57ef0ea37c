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
    """The phases the campaign passes through, each with the day it enters it, in order.

    Phases follow each other in the order the notice gives them, and their windows may
    overlap: foreign_investment_2017 runs 组织实施 over all of September-December, with
    动员部署 on 8-10 September and 经验总结 in December inside it. On a day, the campaign is
    in the open phase that began last (the more specific one), else still in the last one
    begun; and no phase comes before every phase listed ahead of it has begun, so the
    campaign does not 组织实施 before it has mobilised, nor ever go back. A phase that is never
    the one a day calls for is not passed through."""
    c = definition.campaign
    dated = [p for p in c.phases if p.window is not None]
    days = sorted({c.period.start} | {d for p in dated if p.window is not None
                                      for d in (p.window.start, p.window.end + timedelta(days=1))
                                      if c.period.start <= d <= c.period.end})
    out: list[tuple[str, date]] = []
    reached = -1  # the index, in the notice's order, of the furthest phase entered
    for day in days:
        begun = []
        for p in dated:
            if p.window is None or p.window.start > day:
                break  # a phase listed ahead has not begun: none after it may either
            begun.append(p)
        open_ = [p for p in begun if p.window is not None and day <= p.window.end]
        pick = max(open_, key=lambda p: p.window.start if p.window else day, default=None) \
            if open_ else (begun[-1] if begun else None)
        index = -1 if pick is None else dated.index(pick)
        if index > reached:
            reached = index
            out.append((dated[index].id, day))
    return tuple(out)


def phase_on(definition: Definition, day: date) -> str:
    """The state the campaign is in on ``day``: a phase (see :func:`phase_order`), pending
    or closed."""
    if day > definition.campaign.period.end:
        return CLOSED
    current = PENDING
    for phase_id, entered in phase_order(definition):
        if entered <= day:
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
