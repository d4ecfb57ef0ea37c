"""Lead and case lifecycles executed with ``transitions``: one machine per lifecycle, many rows.

A ``transitions.Machine`` per record costs ~0.6 ms and tens of KB, and ``add_model`` slows as
models pile up. So each :class:`Lifecycle` of a definition is built into one machine, once, and a
move is applied to a short-lived cursor holding the row's state and fields: the machine decides
whether the trigger is valid from that state and runs the declarative guards as its conditions;
the caller writes the new state back to the row (and the audit event) in its own transaction.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from transitions import EventData, Machine

from engine.spec.fields import RECORD_FIELDS
from engine.spec.loader import Definition, per_definition
from engine.spec.model import Condition, Lifecycle, Transition

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge,
    "lt": operator.lt, "le": operator.le,
}
_OP_WORDS = {"eq": "等于", "ne": "不等于", "gt": "大于", "ge": "不小于", "lt": "小于",
             "le": "不大于", "in": "属于", "present": "已填写"}


@dataclass(frozen=True, slots=True)
class GuardFailure:
    """Why a guard held a move back: which field, and what it needed."""

    field: str
    label: str
    need: str
    actual: Any = None

    def message(self) -> str:
        if self.need == "present":
            return f"缺少必填字段“{self.label}”（{self.field}）"
        return f"字段“{self.label}”（{self.field}）应{self.need}，实际为 {self.actual!r}"


@dataclass(frozen=True, slots=True)
class Moved:
    trigger: str
    source: str
    dest: str


@dataclass(frozen=True, slots=True)
class Refused:
    """A move that did not happen, with every reason and the moves that are possible."""

    trigger: str
    state: str
    failures: tuple[GuardFailure, ...] = ()
    unknown_trigger: bool = False
    valid_triggers: tuple[str, ...] = ()

    def message(self) -> str:
        if self.unknown_trigger:
            head = f"当前状态“{self.state}”下不能执行“{self.trigger}”"
        else:
            head = f"不能执行“{self.trigger}”：" + "；".join(f.message() for f in self.failures)
        allowed = "、".join(self.valid_triggers) or "（无，已是终止状态）"
        return f"{head}。当前可执行的动作：{allowed}"


@dataclass(slots=True)
class _Cursor:
    """The only "model" the machine ever sees: one row's state and fields, for one move."""

    state: str
    fields: Mapping[str, Any]
    failures: list[GuardFailure] = field(default_factory=list)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _comparable(value: Any, like: Any) -> Any:
    """Compare a stored value with a YAML literal of another type (Decimal vs int, etc.)."""
    if isinstance(like, (int, float)) and not isinstance(like, bool) and isinstance(
            value, (int, float, Decimal)) and not isinstance(value, bool):
        return Decimal(str(value)), Decimal(str(like))
    if isinstance(like, date) and isinstance(value, str):
        try:
            return date.fromisoformat(value), like
        except ValueError:
            return value, like
    return value, like


def _holds(cond: Condition, value: Any) -> bool:
    if cond.op == "present":
        return _present(value)
    if not _present(value):
        return False
    if cond.op == "in":
        return any(_comparable(value, v)[0] == _comparable(value, v)[1]
                   for v in (cond.value or ()))
    left, right = _comparable(value, cond.value)
    try:
        return _OPS[cond.op](left, right)
    except TypeError:
        return False


class LifecycleMachine:
    """The machine of one lifecycle (lead or case) of one definition version."""

    def __init__(self, life: Lifecycle, kind: str,
                 labels: Mapping[str, str] | None = None) -> None:
        self.life = life
        self.kind = kind
        self.labels = {n: f.label for n, f in RECORD_FIELDS[kind].items()}
        self.labels.update({fd.name: fd.label for fd in life.fields})
        self.labels.update(labels or {})
        self.terminal = frozenset(s.id for s in life.states if s.terminal)
        self.machine = Machine(
            model=None, states=[s.id for s in life.states], initial=life.initial,
            transitions=[self._spec(t) for t in life.transitions], auto_transitions=False,
            send_event=True, ignore_invalid_triggers=False,
        )
        self._triggers: dict[str, tuple[str, ...]] = {}  # the machine never changes

    def _spec(self, t: Transition) -> dict[str, Any]:
        def guard(event: EventData) -> bool:
            cursor: _Cursor = event.model
            cursor.failures = self.failures(t, cursor.fields)
            return not cursor.failures

        return {"trigger": t.trigger, "source": list(t.from_), "dest": t.to,
                "conditions": [guard]}

    def failures(self, t: Transition, fields: Mapping[str, Any]) -> list[GuardFailure]:
        """Every guard of ``t`` that ``fields`` do not satisfy, in declaration order."""
        out = [GuardFailure(name, self.labels.get(name, name), "present")
               for name in t.requires if not _present(fields.get(name))]
        for cond in t.conditions:
            value = fields.get(cond.field)
            if not _holds(cond, value):
                need = _OP_WORDS[cond.op] + ("" if cond.op == "present" else f" {cond.value!r}")
                out.append(GuardFailure(cond.field, self.labels.get(cond.field, cond.field),
                                        "present" if cond.op == "present" else need, value))
        return out

    def triggers_from(self, state: str) -> tuple[str, ...]:
        known = self._triggers.get(state)
        if known is None:
            known = self._triggers[state] = tuple(self.machine.get_triggers(state))
        return known

    def reads_fields(self, trigger: str) -> bool:
        """Whether a guard of ``trigger`` looks at a record's fields (most do not: a caller
        moving many records may then skip assembling them)."""
        return any(t.requires or t.conditions for t in self.life.transitions
                   if t.trigger == trigger)

    def fire(self, state: str, trigger: str, fields: Mapping[str, Any]) -> Moved | Refused:
        """Try ``trigger`` on a row in ``state`` with ``fields``; nothing is written here."""
        valid = self.triggers_from(state)
        if trigger not in valid:
            return Refused(trigger, state, unknown_trigger=True, valid_triggers=valid)
        cursor = _Cursor(state, fields)
        if self.machine.events[trigger].trigger(cursor):
            return Moved(trigger, state, cursor.state)
        return Refused(trigger, state, tuple(cursor.failures), valid_triggers=valid)


@per_definition
def lifecycle_machines(definition: Definition) -> dict[str, LifecycleMachine]:
    """The machines of a definition's lifecycles, by record kind: built once per definition
    (a machine keeps no record's state; each move brings its own row), not once per tick."""
    lifecycles = definition.campaign.lifecycles
    if lifecycles is None:
        return {}
    return {kind: LifecycleMachine(life, kind)
            for kind in ("lead", "case") if (life := getattr(lifecycles, kind)) is not None}
