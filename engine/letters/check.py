"""Validate-time checks of a campaign's letter templates: render each against a sample.

A template is code written by campaign authors. ``campaign validate`` and ``campaign load``
render every template a campaign may use against a sample letter of its kind built from the
campaign itself (each report, its first phase and timer), so an undefined variable or a syntax error
is a located error before the first daily run, not a failed run weeks later. On top of the
sandbox, a template that so much as names an underscore attribute (``__class__``,
``_private``) is refused outright: no letter needs one.
"""

from __future__ import annotations

from datetime import timedelta

from jinja2 import TemplateError, nodes

from engine.letters.context import forwarding_context, letter_context, template_name
from engine.letters.render import LetterRenderer, TemplateProblem
from engine.runtime.planner import Letter
from engine.runtime.timers import TimedRecord
from engine.spec.dates import DateError, all_phases, deadlines
from engine.spec.diagnostics import Pos
from engine.spec.loader import Definition, Validation

KINDS = ("reminder", "overdue", "escalation", "supervision", "phase_start", "forwarding")


def sample_letters(definition: Definition) -> list[Letter]:
    """Plausible letters of each kind the campaign can send: the report letters once per
    report (a report without a quota gives a template no shortfall to compute with, and that
    must fail here, not in the first daily run that reaches the report)."""
    c, index = definition.campaign, definition.bodies
    some_body = next(iter(index.bodies), c.issuer[0])
    out: list[Letter] = []
    for report in c.reports:
        try:
            due = deadlines(c, report)[0]
        except (DateError, IndexError):
            continue
        body = next((b.id for b in index.select(report.from_)), some_body)
        quota = report.quota.min if report.quota else None
        common = {"campaign": c.id, "report": report.id, "body": body,
                  "period": due.period, "due": due.due, "shortfall": quota}
        out += [Letter("sample", "reminder", recipient=body,
                       scheduled=due.due - timedelta(days=3), **common),
                Letter("sample", "overdue", recipient=body,
                       scheduled=due.due + timedelta(days=1), **common),
                Letter("sample", "escalation", recipient=c.issuer[0],
                       scheduled=due.due + timedelta(days=10), **common),
                Letter("sample", "escalation", recipient=body,  # pressed directly (direct)
                       scheduled=due.due + timedelta(days=10), **common)]
    life = next((lf for lf in (c.lifecycles.lead, c.lifecycles.case) if lf and lf.timers), None) \
        if c.lifecycles else None
    if life is not None:
        timer = life.timers[0]
        record = TimedRecord("lead" if life is c.lifecycles.lead else "case", 1, "样例-001",
                             timer.state, some_body, c.period.start)
        out.append(Letter("sample", "supervision", c.id, some_body,
                          c.period.start + timedelta(days=timer.after_days),
                          body=some_body, record=record, timer=timer.id))
    phase = next((p for p in all_phases(c.phases) if p.window is not None), None)
    if phase is not None and phase.window is not None:
        out.append(Letter("sample", "phase_start", c.id, some_body, phase.window.start,
                          phase=phase.id))
    return out


def sample_contexts(definition: Definition) -> list[tuple[str, dict[str, object]]]:
    """The contexts each template is checked against, with its kind."""
    out = [(letter.kind, letter_context(definition, letter, letter.scheduled))
           for letter in sample_letters(definition)]
    c = definition.campaign
    if c.lifecycles is not None and c.lifecycles.lead is not None:
        some_body = next(iter(definition.bodies.bodies), c.issuer[0])
        sample = {"right_holder": "样例权利人", "mark": "样例商标", "ownership_clear": True,
                  "received_on": c.period.start}
        out.append(("forwarding", forwarding_context(
            definition, sample, "样例-001", c.issuer[0], some_body, c.period.start,
            c.period.start + timedelta(days=30))))
    return out


def unsafe_names(renderer: LetterRenderer, kind: str) -> list[str]:
    """Underscore attributes or keys the template reaches for (what it includes is still
    sandboxed at render time; the project's own partials need none)."""
    source, _, _ = renderer.env.loader.get_source(renderer.env, renderer.path_for(kind))  # type: ignore[union-attr]
    tree = renderer.env.parse(source)
    found = [n.attr for n in tree.find_all(nodes.Getattr) if n.attr.startswith("_")]
    found += [n.arg.value for n in tree.find_all(nodes.Getitem)
              if isinstance(n.arg, nodes.Const) and str(n.arg.value).startswith("_")]
    return found


def check_templates(result: Validation) -> None:
    """Add a located error to ``result`` for every template that cannot render a sample."""
    for definition in result.definitions:
        c = definition.campaign
        renderer = LetterRenderer(definition)
        failed: set[str] = set()  # one error per template, not one per report it fails for
        for kind, context in sample_contexts(definition):
            if kind in failed:
                continue
            name = template_name(kind)
            pos: Pos = c.at(f"templates.{name}") if name in c.templates else c.pos
            path = renderer.path_for(kind)
            try:
                bad = unsafe_names(renderer, kind)
                if bad:
                    result.report.error(pos, "template-unsafe", path=path,
                                        name="、".join(sorted(set(bad))))
                    failed.add(kind)
                    continue
                renderer.render(kind, context)
            except TemplateProblem as exc:
                failed.add(kind)
                result.report.error(pos, "template-broken", path=path, problem=str(exc))
            except TemplateError as exc:  # a syntax error found while parsing for names
                failed.add(kind)
                line = getattr(exc, "lineno", None)
                where = f"{path}:{line}" if line else path
                result.report.error(pos, "template-broken", path=path,
                                    problem=f"{where}: {exc}")


__all__ = ["KINDS", "check_templates", "sample_contexts", "sample_letters"]
