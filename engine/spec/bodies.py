"""The body registry as a lookup: ids, the hierarchy, and selector fan-out.

A selector ("every province", "every county bureau of the city") becomes a concrete, ordered
tuple of bodies here, once, so the planner and the summaries never re-interpret selectors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from engine.spec.model import Body, BodyRegistry, BodySet, Selector


@dataclass(frozen=True)
class BodyIndex:
    """Every body of the registries a campaign uses, in registry order."""

    bodies: Mapping[str, Body]
    registry_of: Mapping[str, str]
    children: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def build(cls, registries: Iterable[BodyRegistry]) -> BodyIndex:
        bodies: dict[str, Body] = {}
        registry_of: dict[str, str] = {}
        for reg in registries:
            for body in reg.bodies:
                bodies.setdefault(body.id, body)
                registry_of.setdefault(body.id, reg.registry)
        kids: dict[str, list[str]] = {}
        for body in bodies.values():
            if body.parent is not None:
                kids.setdefault(body.parent, []).append(body.id)
        return cls(MappingProxyType(bodies), MappingProxyType(registry_of),
                   MappingProxyType({k: tuple(v) for k, v in kids.items()}))

    def __contains__(self, body_id: object) -> bool:
        return body_id in self.bodies

    def __getitem__(self, body_id: str) -> Body:
        return self.bodies[body_id]

    def ancestors(self, body_id: str) -> Iterator[str]:
        """The chain of superiors, nearest first; stops on a cycle instead of looping."""
        seen = {body_id}
        current = self.bodies.get(body_id)
        while current is not None and current.parent is not None and current.parent not in seen:
            seen.add(current.parent)
            yield current.parent
            current = self.bodies.get(current.parent)

    def superior(self, body_id: str) -> Body | None:
        parent = self.bodies[body_id].parent if body_id in self.bodies else None
        return self.bodies.get(parent) if parent else None

    def select(self, chosen: BodySet) -> tuple[Body, ...]:
        """The bodies a selector (or a single id) stands for; unknown ids are skipped here
        because the rules have already reported them."""
        if isinstance(chosen, str):
            return (self.bodies[chosen],) if chosen in self.bodies else ()
        return tuple(self.bodies[i] for i in self._select_ids(chosen))

    def _select_ids(self, sel: Selector) -> list[str]:
        has_criteria = any(v is not None for v in (sel.level, sel.kind, sel.under, sel.registry))
        # a dict keeps the order of first appearance with O(1) membership (3,000 counties)
        picked: dict[str, None] = dict.fromkeys(i for i in sel.bodies if i in self.bodies)
        if has_criteria:
            for body_id, body in self.bodies.items():
                if sel.level is not None and body.level != sel.level:
                    continue
                if sel.kind is not None and body.kind != sel.kind:
                    continue
                if sel.registry is not None and self.registry_of[body_id] != sel.registry:
                    continue
                if sel.under is not None and sel.under not in self.ancestors(body_id):
                    continue
                picked.setdefault(body_id)
        excluded = set(sel.exclude)
        return [i for i in picked if i not in excluded]


def is_name_only(chosen: BodySet) -> bool:
    """A selector that only names a group the registries do not list."""
    return isinstance(chosen, Selector) and not chosen.bodies and all(
        v is None for v in (chosen.level, chosen.kind, chosen.under, chosen.registry))


def name_on(body: Body, day: date) -> str:
    """The body's official name as it stood on ``day`` (letters of 2017 use 2017 names)."""
    for former in sorted(body.former_names, key=lambda fn: fn.until or date.max):
        if former.until is not None and day < former.until:
            return former.name
    return body.name


def describe(chosen: BodySet, index: BodyIndex) -> str:
    """A Chinese label for a selector: its own name, or the bodies it lists."""
    if isinstance(chosen, str):
        return index[chosen].name if chosen in index else chosen
    if chosen.name:
        return chosen.name
    names = [b.short_name or b.name for b in index.select(chosen)]
    return "、".join(names[:5]) + (f"等{len(names)}个单位" if len(names) > 5 else "")
