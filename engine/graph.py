"""Lifecycle diagrams (Mermaid and Graphviz dot) for reviewing a definition by eye."""

from __future__ import annotations

from engine.spec.model import Lifecycle


def _label(life: Lifecycle, state_id: str) -> str:
    return next((s.name for s in life.states if s.id == state_id), state_id)


def to_mermaid(life: Lifecycle) -> str:
    lines = ["stateDiagram-v2"]
    for s in life.states:
        lines.append(f'    state "{s.name}" as {_safe(s.id)}')
    lines.append(f"    [*] --> {_safe(life.initial)}")
    for t in life.transitions:
        guard = f" [{', '.join(t.requires)}]" if t.requires else ""
        for src in t.from_:
            lines.append(f"    {_safe(src)} --> {_safe(t.to)}: {t.name}{guard}")
    for s in life.states:
        if s.terminal:
            lines.append(f"    {_safe(s.id)} --> [*]")
    for timer in life.timers:
        note = f"超过{timer.after_days}天 → {timer.action}"
        lines.append(f"    note right of {_safe(timer.state)}: {note}")
    return "\n".join(lines)


def to_dot(life: Lifecycle, name: str) -> str:
    lines = [f'digraph "{name}" {{', "    rankdir=LR;", '    node [shape=box, style=rounded];',
             '    "__start" [shape=point];']
    for s in life.states:
        shape = ", peripheries=2" if s.terminal else ""
        lines.append(f'    "{s.id}" [label="{_esc(s.name)}"{shape}];')
    lines.append(f'    "__start" -> "{life.initial}";')
    for t in life.transitions:
        for src in t.from_:
            lines.append(f'    "{src}" -> "{t.to}" [label="{_esc(t.name)}"];')
    lines.append("}")
    return "\n".join(lines)


def _safe(state_id: str) -> str:
    return state_id.replace(".", "_")


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
