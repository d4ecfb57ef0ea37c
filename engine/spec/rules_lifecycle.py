"""Meaning checks of lead and case lifecycles: states reachable, ways out, guards and timers.

Split from :mod:`engine.spec.rules` because a lifecycle is checked as a graph, on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.spec.diagnostics import Pos, did_you_mean
from engine.spec.fields import RECORD_FIELDS, RESERVED_NAMES
from engine.spec.model import ROUTING_TRIGGERS, Campaign, Lifecycle

if TYPE_CHECKING:
    from engine.spec.rules import Context


# --- lifecycles -------------------------------------------------------------------------------
def lifecycles_of(c: Campaign) -> list[tuple[str, Lifecycle]]:
    if c.lifecycles is None:
        return []
    return [(n, lc) for n in ("lead", "case") if (lc := getattr(c.lifecycles, n)) is not None]


def check_lifecycles(ctx: Context) -> None:
    for name, life in lifecycles_of(ctx.campaign):
        _check_one_lifecycle(ctx, name, life)


def _check_one_lifecycle(ctx: Context, name: str, life: Lifecycle) -> None:
    rep = ctx.report
    states = {s.id: s for s in life.states}
    fields = set(RECORD_FIELDS[name]) | {fd.name for fd in life.fields}

    def state(pos: Pos, ref: str) -> bool:
        if ref in states:
            return True
        rep.error(pos, "unknown-state", did_you_mean(ref, states), id=ref, lifecycle=name)
        return False

    def field(pos: Pos, ref: str) -> None:
        if ref not in fields:
            rep.error(pos, "unknown-field", did_you_mean(ref, fields), id=ref, record=name)

    state(life.at("initial"), life.initial)
    edges: dict[str, set[str]] = {s: set() for s in states}
    seen: set[tuple[str, str]] = set()
    for t in life.transitions:
        ok_to = state(t.at("to"), t.to)
        for i, src in enumerate(t.from_):
            if state(t.at("from_", i), src) and ok_to:
                edges[src].add(t.to)
            if (t.trigger, src) in seen:
                rep.error(t.at("trigger"), "duplicate-transition", trigger=t.trigger, state=src)
            seen.add((t.trigger, src))
            if src in states and states[src].terminal:
                rep.warning(t.at("from_", i), "terminal-has-exit", id=src, trigger=t.trigger)
        for i, ref in enumerate(t.requires):
            field(t.at("requires", i), ref)
        for cond in t.conditions:
            field(cond.at("field"), cond.field)
            needs_value = cond.op != "present"
            if needs_value != (cond.value is not None) or (cond.op == "in") != isinstance(
                    cond.value, tuple):
                rep.error(cond.pos, "condition-value", op=cond.op,
                          need=_value_need(cond.op))
    for fd in life.fields:
        if fd.name in RECORD_FIELDS[name] or fd.name in RESERVED_NAMES:
            rep.error(fd.at("name"), "field-name-taken", id=fd.name, record=name)
        if fd.type == "enum" and not fd.choices:
            rep.error(fd.pos, "enum-needs-choices", id=fd.name)
    if life.initial in states:
        reached = _reachable(life.initial, edges)
        for s in life.states:
            if s.id not in reached:
                rep.error(s.pos, "state-unreachable", id=s.id, initial=life.initial)
    for s in life.states:
        if not s.terminal and not edges.get(s.id):
            rep.error(s.pos, "state-dead-end", id=s.id)
    if not any(s.terminal for s in life.states):
        rep.error(life.at("states"), "no-terminal", lifecycle=name)
    _check_timers(ctx, name, life, states)


def _value_need(op: str) -> str:
    if op == "present":
        return "不需要 value / takes no value"
    if op == "in":
        return "需要一个取值列表 value / needs a list value"
    return "需要 value / needs a value"


def _check_timers(ctx: Context, name: str, life: Lifecycle, states: dict) -> None:
    triggers: dict[str, set[str]] = {}
    for t in life.transitions:
        triggers.setdefault(t.trigger, set()).update(t.from_)
    for timer in life.timers:
        if timer.state not in states:
            ctx.report.error(timer.at("state"), "unknown-state",
                             did_you_mean(timer.state, states), id=timer.state, lifecycle=name)
        if timer.action == "fire" and timer.trigger is None:
            ctx.report.error(timer.pos, "timer-needs-trigger", id=timer.id)
        if timer.trigger is not None:
            if timer.trigger not in triggers:
                ctx.report.error(timer.at("trigger"), "unknown-trigger",
                                 did_you_mean(timer.trigger, triggers), id=timer.trigger,
                                 lifecycle=name)
            elif timer.state not in triggers[timer.trigger]:
                ctx.report.error(timer.at("trigger"), "timer-trigger", id=timer.id,
                                 trigger=timer.trigger, state=timer.state)
        if timer.source is None and timer.assumption is None:
            ctx.report.warning(timer.pos, "timer-unsourced", id=timer.id)


def _reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen




def check_routing(ctx: Context) -> None:
    """Routing moves leads with fixed lifecycle triggers: a campaign that routes must have a
    lead lifecycle offering them, or every forward would fail on the day it is needed."""
    c = ctx.campaign
    if c.routing is None:
        return
    life = c.lifecycles.lead if c.lifecycles else None
    have = {t.trigger for t in life.transitions} if life else set()
    missing = [t for t in ROUTING_TRIGGERS if t not in have]
    if missing:
        ctx.report.error(c.at("routing"), "routing-needs-triggers", missing="、".join(missing))
