"""The meaning checks of a campaign definition: one function per rule.

Shape errors (unknown keys, wrong types) are found while converting; these rules look across the
whole definition: references resolve, dates fit their periods, lifecycles can be walked. Each
rule reports located diagnostics naming the offending ids and never raises, so one run lists
every problem of a file.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.spec import cascade
from engine.spec.bodies import BodyIndex, is_name_only
from engine.spec.cascade import Lineage
from engine.spec.dates import DateCycle, DateError, all_phases, deadlines, phase_stretches
from engine.spec.diagnostics import Pos, Report, did_you_mean
from engine.spec.fields import RECORD_FIELDS
from engine.spec.model import (
    Anchor,
    BodySet,
    Campaign,
    Node,
    Recurring,
    Relative,
    Selector,
    Window,
    effective_reminders,
)
from engine.spec.rules_lifecycle import check_lifecycles, check_routing, lifecycles_of
from engine.spec.workdays import CalendarYearUnknown, known_years, shift
from engine.spec.yamlread import is_file


@dataclass(frozen=True)
class Context:
    campaign: Campaign
    bodies: BodyIndex
    report: Report
    file: Path
    known_campaigns: frozenset[str] = frozenset()
    template_dirs: tuple[Path, ...] = ()
    lineage: Lineage = field(default_factory=Lineage)
    """What ``extends`` resolved to; ``campaign`` is already merged with that parent."""


def check_campaign(ctx: Context) -> None:
    for rule in RULES:
        rule(ctx)


# --- identity ---------------------------------------------------------------------------------
def _check_identity(ctx: Context) -> None:
    c = ctx.campaign
    if c.id != ctx.file.stem:
        ctx.report.error(c.at("id"), "campaign-id-mismatch", id=c.id, stem=ctx.file.stem)
    try:
        zoneinfo.ZoneInfo(c.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a directory
        ctx.report.error(c.at("timezone"), "bad-timezone", tz=c.timezone)
    for i, parent in enumerate(c.implements):
        if parent not in ctx.known_campaigns and not is_file(ctx.file.parent / f"{parent}.yaml"):
            ctx.report.warning(c.at("implements", i), "unknown-campaign",
                               did_you_mean(parent, ctx.known_campaigns), id=parent)


def _check_duplicate_ids(ctx: Context) -> None:
    c = ctx.campaign
    groups: dict[str, list[Node]] = {
        "phase": list(all_phases(c.phases)), "task": list(c.tasks), "report": list(c.reports),
        "return": list(c.returns), "target": list(c.targets),
    }
    for form in c.returns:
        groups[f"{form.id} section"] = list(form.sections)
        groups[f"{form.id} row"] = [row for s in form.sections for row in s.rows]
    for name, life in lifecycles_of(c):
        groups[f"{name} state"] = list(life.states)
        groups[f"{name} timer"] = list(life.timers)
        groups[f"{name} field"] = list(life.fields)
    for what, nodes in groups.items():
        _report_duplicates(ctx.report, what, nodes)


def _report_duplicates(report: Report, what: str, nodes: list[Node]) -> None:
    first: dict[str, Node] = {}
    for node in nodes:
        key = getattr(node, "id", None) or getattr(node, "name", None)
        if key in first:
            report.error(node.at("id") if hasattr(node, "id") else node.pos, "duplicate-id",
                         id=key, what=what, line=first[key].pos.line)
        else:
            first[key] = node


# --- bodies -----------------------------------------------------------------------------------
def _body_sets(c: Campaign) -> Iterator[tuple[Node, str, int | None, BodySet, bool]]:
    """Every place a body or selector is named: (owner, field, index, value, must_resolve)."""
    for i, issuer in enumerate(c.issuer):
        yield c, "issuer", i, issuer, True
    for i, a in enumerate(c.addressees):
        yield c, "addressees", i, a, False
    for i, a in enumerate(c.copy_to):
        yield c, "copy_to", i, a, False
    for t in c.targets:
        if t.scope is not None:
            yield t, "scope", None, t.scope, True
    for p in all_phases(c.phases):
        if p.notify is not None:
            yield p, "notify", None, p.notify, True
    for t in c.tasks:
        if t.owner is not None:
            yield t, "owner", None, t.owner, False
        for i, s in enumerate(t.shared_owners):
            yield t, "shared_owners", i, s, False
        for i, s in enumerate(t.partners):
            yield t, "partners", i, s, False
    for r in c.reports:
        yield r, "from_", None, r.from_, True
        yield r, "to", None, r.to, True
    if c.routing is not None:
        yield c.routing, "office", None, c.routing.office, True
    if c.jurisdiction is not None:
        yield c, "jurisdiction", None, c.jurisdiction, True


def _check_body_refs(ctx: Context) -> None:
    index = ctx.bodies
    for owner, name, i, chosen, must_resolve in _body_sets(ctx.campaign):
        pos = owner.at(name, i)
        if isinstance(chosen, str):
            _known_body(ctx, pos, chosen)
            continue
        for j, ref in enumerate(chosen.bodies):
            _known_body(ctx, chosen.at("bodies", j), ref)
        for j, ref in enumerate(chosen.exclude):
            _known_body(ctx, chosen.at("exclude", j), ref)
        if chosen.under is not None:
            _known_body(ctx, chosen.at("under"), chosen.under)
        if chosen.registry is not None and chosen.registry not in set(index.registry_of.values()):
            ctx.report.error(chosen.at("registry"), "unknown-registry",
                             did_you_mean(chosen.registry, set(index.registry_of.values())),
                             id=chosen.registry)
        if is_name_only(chosen):
            if must_resolve:
                ctx.report.error(pos, "name-only-selector", key=name.rstrip("_"))
        elif not index.select(chosen):
            (ctx.report.error if must_resolve else ctx.report.warning)(chosen.pos, "empty-selector")


def _known_body(ctx: Context, pos: Pos, body_id: str) -> None:
    if body_id not in ctx.bodies:
        ctx.report.error(pos, "unknown-body", did_you_mean(body_id, ctx.bodies.bodies), id=body_id)


# --- phases and dates -------------------------------------------------------------------------
def _check_phase_refs(ctx: Context) -> None:
    c = ctx.campaign
    known = {p.id for p in all_phases(c.phases)}

    def check(pos: Pos, ref: str) -> None:
        if ref not in known:
            ctx.report.error(pos, "unknown-phase", did_you_mean(ref, known), id=ref)

    for t in c.tasks:
        for i, ref in enumerate(t.phases):
            check(t.at("phases", i), ref)
    for r in c.reports:
        if r.phase is not None:
            check(r.at("phase"), r.phase)
        if isinstance(r.due, Relative) and r.due.relative_to.phase is not None:
            check(r.due.relative_to.at("phase"), r.due.relative_to.phase)


def _check_windows(ctx: Context) -> None:
    c = ctx.campaign
    period = c.period
    _window_order(ctx, period)

    def walk(phases: tuple, parent_id: str | None, parent: Window | None) -> None:
        for p in phases:
            w = p.window
            if w is not None and _window_order(ctx, w):
                if not (period.start <= w.start and w.end <= period.end):
                    ctx.report.error(p.at("window"), "window-outside-period", id=p.id,
                                     start=w.start, end=w.end, pstart=period.start,
                                     pend=period.end)
                elif parent is not None and not (parent.start <= w.start and w.end <= parent.end):
                    ctx.report.error(p.at("window"), "window-outside-parent", id=p.id,
                                     start=w.start, end=w.end, parent=parent_id,
                                     pstart=parent.start, pend=parent.end)
            walk(p.phases, p.id, w or parent)

    walk(c.phases, None, None)


def _check_phases_entered(ctx: Context) -> None:
    """A dated top-level phase the timeline never reaches (listed after a phase that begins
    later, or with the same window as one listed ahead of it) would be silently skipped by
    every run: say so while the author can reorder it."""
    c = ctx.campaign
    period = c.period
    windows = [p.window for p in c.phases if p.window is not None]
    # This campaign's own dates wrong (reported above): its timeline says nothing reliable.
    # Not the shared report's error count: another file in the same call must not silence it.
    if period.end < period.start or any(
            w.end < w.start or w.start < period.start or period.end < w.end for w in windows):
        return
    entered = {pid for pid, _ in phase_stretches(c)}
    for p in c.phases:
        if p.window is not None and p.id not in entered:
            ctx.report.warning(p.at("window"), "phase-never-entered", id=p.id)


def _window_order(ctx: Context, w: Window) -> bool:
    if w.end < w.start:
        ctx.report.error(w.at("end"), "window-reversed", start=w.start, end=w.end)
        return False
    return True


def _check_deadlines(ctx: Context) -> None:
    c = ctx.campaign
    reports = {r.id: r for r in c.reports}
    phases = {p.id: p for p in all_phases(c.phases)}
    for r in c.reports:
        due = r.due
        if isinstance(due, Recurring) and due.last < due.first:
            ctx.report.error(due.at("last"), "recurring-reversed", first=due.first, last=due.last)
            continue
        if isinstance(due, Relative) and not _anchor_ok(ctx, r.id, due.relative_to, reports,
                                                        phases):
            continue
        try:
            days = deadlines(c, r)
        except DateCycle:
            ctx.report.error(r.at("due"), "relative-cycle", id=r.id)
            continue
        except DateError:  # a broken anchor further down the chain, reported where it is
            continue
        for d in days:
            if not (c.period.start <= d.due <= c.period.end):
                ctx.report.warning(r.at("due"), "due-outside-period", id=r.id, due=d.due,
                                   pstart=c.period.start, pend=c.period.end)
                break


def _anchor_ok(ctx: Context, report_id: str, a: Anchor, reports: dict, phases: dict) -> bool:
    named = [x for x in (a.phase, a.report, a.date) if x is not None]
    if len(named) != 1:
        ctx.report.error(a.pos, "anchor-needs-one")
        return False
    if a.phase is not None:
        phase = phases.get(a.phase)
        if phase is not None and phase.window is None:
            ctx.report.error(a.at("phase"), "phase-undated", id=a.phase)
        return phase is not None and phase.window is not None
    if a.report is not None:
        other = reports.get(a.report)
        if other is None:
            ctx.report.error(a.at("report"), "unknown-report", did_you_mean(a.report, reports),
                             id=a.report)
            return False
        if isinstance(other.due, Recurring):
            ctx.report.error(a.at("report"), "recurring-relative", id=report_id, ref=a.report)
            return False
    return True


# --- reports, tasks, returns ------------------------------------------------------------------
def _check_reports(ctx: Context) -> None:
    c = ctx.campaign
    forms = {f.id for f in c.returns}
    for r in c.reports:
        if r.return_form is not None and r.return_form not in forms:
            ctx.report.error(r.at("return_form"), "unknown-return",
                             did_you_mean(r.return_form, forms), id=r.return_form)
        if r.kind == "statistics_return" and r.return_form is None:
            ctx.report.warning(r.at("kind"), "return-needs-form", id=r.id)
        if r.quota is not None and r.kind not in ("lead_list", "major_cases"):
            ctx.report.warning(r.at("quota"), "quota-kind", id=r.id, kind=r.kind)
        if r.to in {b.id for b in ctx.bodies.select(r.from_)}:
            ctx.report.warning(r.at("to"), "reports-to-self", body=r.to)
    policies = [c.reminders, c.routing.reminders if c.routing else None] + [
        r.reminders for r in c.reports]
    for policy in policies:
        if policy is not None and policy.before_due and min(policy.before_due) < 1:
            ctx.report.error(policy.at("before_due"), "reminder-order")


def _check_tasks(ctx: Context) -> None:
    for t in ctx.campaign.tasks:
        if t.owner is None and not t.shared_owners:
            ctx.report.error(t.pos, "task-needs-owner", id=t.id)


def _check_returns(ctx: Context) -> None:
    fields = RECORD_FIELDS["case"]
    case_life = ctx.campaign.lifecycles.case if ctx.campaign.lifecycles else None
    known = set(fields) | ({fd.name for fd in case_life.fields} if case_life else set())

    def check_where(node: Node, where: object) -> None:
        for key in where:  # type: ignore[attr-defined]
            if key not in known:
                ctx.report.error(node.at("where"), "unknown-field", did_you_mean(key, known),
                                 id=key, record="case")

    for form in ctx.campaign.returns:
        for section in form.sections:
            check_where(section, section.where)
            for row in section.rows:
                check_where(row, row.where)
                for measure in row.measures:
                    check_where(measure, measure.where)
                    if measure.aggregate == "sum" and measure.field is None:
                        ctx.report.error(measure.pos, "sum-needs-field", id=measure.id)
                    if measure.field is not None and measure.field not in known:
                        ctx.report.error(measure.at("field"), "unknown-field",
                                         did_you_mean(measure.field, known), id=measure.field,
                                         record="case")


def _check_working_day_years(ctx: Context) -> None:
    """Working-day counts need the official calendar of every year they touch: a year the
    installed calendar lacks is refused now, not discovered by the daily run."""
    c = ctx.campaign
    first, last = known_years()
    for report in c.reports:
        policy = effective_reminders(c, report)
        if policy.calendar != "working_days":
            continue
        try:
            days = [d.due for d in deadlines(c, report)]
        except DateError:  # reported by _check_deadlines
            continue
        chase = (policy.overdue_after or 1) + (policy.max_repeats or 0) * (policy.repeat_every or 7)
        reach = [-max(policy.before_due or (0,)), policy.escalate_after or 0, chase]
        try:
            for due in days:
                for n in reach:
                    shift(due, n, "working_days")
        except CalendarYearUnknown as exc:
            layer = next(p for p in (report.reminders, c.reminders)
                         if p is not None and p.calendar is not None)
            ctx.report.error(layer.at("calendar"), "calendar-year-unknown", year=exc.year,
                             first=first, last=last)
    for _, life in lifecycles_of(c):
        for timer in life.timers:
            span = range(c.period.start.year, c.period.end.year + 1)
            missing = [y for y in span if not first <= y <= last]
            if timer.calendar == "working_days" and missing:
                ctx.report.error(timer.at("calendar"), "calendar-year-unknown", year=missing[0],
                                 first=first, last=last)


# --- templates --------------------------------------------------------------------------------
def _check_templates(ctx: Context) -> None:
    c = ctx.campaign
    for kind, path in c.templates.items():
        candidates = [ctx.file.parent / path] + [d / path for d in ctx.template_dirs]
        if not any(is_file(p) for p in candidates):
            ctx.report.error(c.at(f"templates.{kind}") if f"templates.{kind}" in c.spans
                             else c.at("templates"), "unknown-template", path=path)


# --- implementation plans that extend a parent (see engine/spec/cascade.py) -------------------
def _check_extends(ctx: Context) -> None:
    """The parent named in ``extends`` must exist, be valid, and not lead back to the child."""
    c, lineage = ctx.campaign, ctx.lineage
    if c.extends is None:
        if c.jurisdiction is not None:
            ctx.report.warning(c.at("jurisdiction"), "jurisdiction-without-extends")
        return
    if lineage.problem == "unknown":
        ctx.report.error(c.at("extends"), "unknown-parent",
                         did_you_mean(c.extends, lineage.candidates - {c.id}), id=c.extends)
    elif lineage.problem == "cycle":
        ctx.report.error(c.at("extends"), "extends-cycle", chain=" → ".join(lineage.chain))
    elif lineage.problem == "broken":
        ctx.report.error(c.at("extends"), "parent-invalid", id=c.extends)


def _check_jurisdiction(ctx: Context) -> None:
    """An inherited report with no reporter left in the jurisdiction is dropped, but said so."""
    for report_id in ctx.lineage.dropped:
        ctx.report.warning(ctx.campaign.at("jurisdiction"), "inherited-report-dropped",
                           id=report_id, parent=ctx.campaign.extends)


def _check_feeds(ctx: Context) -> None:
    """A local report that feeds (or replaces) a parent report must be due no later than it,
    period by period: otherwise the level above cannot meet its own deadline."""
    c, parent = ctx.campaign, ctx.lineage.parent
    theirs = {r.id: r for r in parent.reports} if parent is not None else {}
    for r in c.reports:
        if r.id not in ctx.lineage.own_reports:
            continue
        if r.feeds is not None and c.extends is None:
            ctx.report.error(r.at("feeds"), "feeds-without-extends", id=r.id)
            continue
        if parent is None:  # no parent at all, or one _check_extends already refused
            continue
        if r.feeds is not None and r.feeds not in theirs:
            ctx.report.error(r.at("feeds"), "unknown-parent-report",
                             did_you_mean(r.feeds, theirs), id=r.feeds, parent=c.extends)
            continue
        target = theirs.get(r.feeds or r.id)
        if target is None:
            continue
        problem = cascade.feed_problem(c, r, parent, target)
        if problem is not None:
            code, args = problem
            ctx.report.error(r.at("due"), code, id=r.id, ref=target.id, **args)
        if r.feeds is not None and r.to not in {b.id for b in ctx.bodies.select(target.from_)}:
            ctx.report.warning(r.at("to"), "feeds-recipient", id=r.id, to=r.to, ref=target.id)


RULES: tuple[Callable[[Context], None], ...] = (
    _check_identity, _check_duplicate_ids, _check_body_refs, _check_phase_refs, _check_windows,
    _check_phases_entered, _check_deadlines, _check_reports, _check_tasks, _check_returns,
    check_lifecycles, _check_templates, _check_working_day_years, _check_extends,
    _check_jurisdiction, _check_feeds, check_routing,
)

__all__ = ["RULES", "Context", "Selector", "check_campaign"]
