"""Implementation plans that extend a parent campaign: what they inherit, and how it is narrowed.

Every notice tells the level below to write its own 实施方案. A province's plan names the parent
campaign in ``extends``; this module is the one place that turns (parent, child) into the single
campaign the rest of the engine runs, so the planner, the store and the letters never learn that
a plan was inherited. It works on the typed model objects, never on YAML, and keeps the positions
of whatever it copies from the parent: a problem in inherited content is reported in the parent's
file, where it can be fixed.

What the child inherits when it does not write the key itself:

* ``timezone``, ``phases``, ``lifecycles``, ``routing``: taken whole from the parent;
* ``reminders``: key by key (the child's keys win), so a plan can change one number of the policy;
* ``reports`` and ``returns``: the parent's, with any of the child's of the same id replacing the
  parent's (to tighten it) and the child's others added;
* ``registries``: the child's plus the parent's.

Everything else (id, title, issuer, period, tasks, targets, addressees, contacts...) is the
child's own: it describes the local notice, not the parent's. ``period`` in particular stays
required, because the whole engine relies on every campaign having one and a local plan always
states its own span.

Narrowing: an inherited report keeps only the reporting bodies inside the child's
``jurisdiction`` (the bodies named there and everything below them). Its ``from`` becomes the
explicit list of those bodies; a report none of whose bodies remain is dropped, and the rules
warn about it rather than losing it silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from engine.spec.bodies import BodyIndex
from engine.spec.dates import DateError, deadlines
from engine.spec.diagnostics import Pos
from engine.spec.model import Campaign, Recurring, ReminderPolicy, Report, Selector

WHOLE = ("timezone", "phases", "lifecycles", "routing")
"""Fields the child takes whole from the parent when it does not write them."""
BY_ID = ("reports", "returns")
"""Lists merged item by item: the child's item of the same id replaces the parent's."""


@dataclass(frozen=True)
class Lineage:
    """What a campaign's ``extends`` resolved to, for the rules to judge and report."""

    parent: Campaign | None = None
    """The parent as it runs (itself already merged with its own parent), or None."""
    problem: Literal["unknown", "cycle", "broken"] | None = None
    """Why there is no parent: no such file, a cycle of ``extends``, or a parent with errors
    (those are reported in the parent's own file)."""
    chain: tuple[str, ...] = ()
    """The ids followed from the child upwards; for a cycle, it ends where it began."""
    candidates: frozenset[str] = frozenset()
    """Campaign files beside the child, for a did-you-mean on an unknown parent."""
    own_reports: frozenset[str] = frozenset()
    """Ids of the reports the child writes itself (the ones whose deadlines are its own)."""
    dropped: tuple[str, ...] = ()
    """Inherited reports dropped because none of their reporters lies in the jurisdiction."""


def merge(parent: Campaign, child: Campaign) -> Campaign:
    """The child with everything it does not state taken from the parent (see module doc)."""
    written = child.spans
    values: dict[str, Any] = {}
    spans: dict[str, Pos] = dict(child.spans)
    for name in WHOLE:
        if name not in written:
            values[name] = getattr(parent, name)
            spans.update(_spans_of(parent, name))
    values["reminders"] = _merge_policy(parent.reminders, child.reminders)
    for name in BY_ID:
        items, item_spans = _merge_by_id(parent, child, name)
        values[name] = items
        spans.update(item_spans)
    registries = [(child, i, r) for i, r in enumerate(child.registries)]
    registries += [(parent, i, r) for i, r in enumerate(parent.registries)
                   if r not in child.registries]
    values["registries"] = tuple(r for _, _, r in registries)
    for k, (owner, i, _) in enumerate(registries):
        spans[f"registries[{k}]"] = owner.at("registries", i)
    return dataclasses.replace(child, spans=MappingProxyType(spans), **values)


def narrow(campaign: Campaign, own_reports: Iterable[str], index: BodyIndex,
           ) -> tuple[Campaign, tuple[str, ...]]:
    """Keep, in every inherited report, only the reporters inside ``campaign.jurisdiction``.

    Returns the narrowed campaign and the ids of the inherited reports left with no reporter.
    The child's own reports are not touched: the child chose their bodies itself.
    """
    if campaign.jurisdiction is None:
        return campaign, ()
    own = set(own_reports)
    inside = within(campaign.jurisdiction, index)
    kept: list[Report] = []
    dropped: list[str] = []
    for report in campaign.reports:
        if report.id in own:
            kept.append(report)
            continue
        bodies = [b.id for b in index.select(report.from_)]
        local = [b for b in bodies if inside(b)]
        if not local:
            dropped.append(report.id)
        elif local == bodies:
            kept.append(report)
        else:
            where = report.from_.pos if isinstance(report.from_, Selector) else report.at("from_")
            chosen = Selector(bodies=tuple(local), pos=where,
                              spans=MappingProxyType({"bodies": where}))
            kept.append(dataclasses.replace(report, from_=chosen))
    return dataclasses.replace(campaign, reports=tuple(kept)), tuple(dropped)


def within(jurisdiction: Selector | str, index: BodyIndex) -> Callable[[str], bool]:
    """A test ``body id -> bool``: is the body one of those named, or below one of them?"""
    named = {b.id for b in index.select(jurisdiction)}
    return lambda body_id: body_id in named or any(a in named for a in index.ancestors(body_id))


def feed_problem(campaign: Campaign, mine: Report, parent: Campaign,
                 target: Report) -> tuple[str, dict[str, Any]] | None:
    """Why the local report ``mine`` cannot feed the parent's ``target`` in time, as a message
    code and its arguments; None when every period of ``mine`` is due on or before the same
    period of ``target`` (the level above must be able to meet its own deadline)."""
    try:
        own_days = deadlines(campaign, mine)
        parent_days = deadlines(parent, target)
    except DateError:  # reported by the deadline rule, here or in the parent's file
        return None
    recurring, parent_recurring = (isinstance(x.due, Recurring) for x in (mine, target))
    if recurring != parent_recurring:
        return ("feeds-recurring" if recurring else "feeds-one-off"), {}
    by_period = {d.period: d.due for d in parent_days}
    for d in own_days:
        if d.period not in by_period:
            return "feeds-period", {"period": d.period}
        if d.due > by_period[d.period]:
            return "deadline-after-parent", {"due": d.due, "pdue": by_period[d.period],
                                             "parent": campaign.extends}
    return None


# --- helpers ----------------------------------------------------------------------------------
def _spans_of(node: Campaign, name: str) -> Mapping[str, Pos]:
    """The spans of field ``name`` and its items, as the parent recorded them."""
    return {k: v for k, v in node.spans.items() if k == name or k.startswith(f"{name}[")}


def _merge_policy(parent: ReminderPolicy | None,
                  child: ReminderPolicy | None) -> ReminderPolicy | None:
    """The child's reminder keys over the parent's, each keeping where it was written."""
    if parent is None or child is None:
        return child if parent is None else parent
    fill = {fl.name: getattr(parent, fl.name) for fl in dataclasses.fields(ReminderPolicy)
            if not fl.metadata.get("internal") and getattr(child, fl.name) is None}
    spans = {**{k: v for k, v in parent.spans.items() if k in fill}, **child.spans}
    return dataclasses.replace(child, spans=MappingProxyType(spans), **fill)


def _merge_by_id(parent: Campaign, child: Campaign,
                 name: str) -> tuple[tuple[Any, ...], dict[str, Pos]]:
    """The parent's items in order with the child's of the same id in their place, then the
    child's others; with the span of each item taken from the file it came from."""
    mine = {item.id: (i, item) for i, item in enumerate(getattr(child, name))}
    picked: list[tuple[Campaign, int, Any]] = []
    for i, item in enumerate(getattr(parent, name)):
        if item.id in mine:
            j, own = mine.pop(item.id)
            picked.append((child, j, own))
        else:
            picked.append((parent, i, item))
    picked += [(child, j, own) for j, own in mine.values()]
    spans = {f"{name}[{k}]": owner.at(name, i) for k, (owner, i, _) in enumerate(picked)}
    return tuple(item for _, _, item in picked), spans
