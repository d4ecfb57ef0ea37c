"""What a letter template may say: a plain mapping built from the definition and a letter.

Pure, and the only thing a template sees: no ORM rows, no definition objects, only strings,
numbers and lists, so a template cannot reach further than this mapping (and the sandbox
refuses attribute tricks on top).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from engine.runtime.planner import Letter
from engine.spec.bodies import name_on
from engine.spec.dates import all_phases
from engine.spec.fields import LEAD_FIELDS
from engine.spec.loader import Definition, per_definition
from engine.spec.workdays import CalendarYearUnknown, is_working_day

TEMPLATE_FOR_KIND = {"phase_start": "phase_notice"}
"""Planner kinds whose template has another name (the rest share their kind's name)."""

DIGITS = "〇一二三四五六七八九"


def cn_date(day: date) -> str:
    """2017-10-31 as written in the body of a letter: 2017年10月31日."""
    return f"{day.year}年{day.month}月{day.day}日"


def cn_date_written(day: date) -> str:
    """The date at the foot of an official document: 二〇一七年十月二十四日."""
    def number(n: int) -> str:
        tens, units = divmod(n, 10)
        return ("" if tens < 2 else DIGITS[tens]) + ("十" if tens else "") + \
            (DIGITS[units] if units or not tens else "")

    year = "".join(DIGITS[int(d)] for d in str(day.year))
    return f"{year}年{number(day.month)}月{number(day.day)}日"


def cn_period(period: str | None) -> str | None:
    """A recurring report's month as a letter names it: ``2017-09`` is 2017年9月. Other
    periods are bookkeeping (feedback on a lead is owed per ``lead:12``, which its title
    already names): a letter does not show them."""
    if period and len(period) == 7 and period[4] == "-" and period.replace("-", "").isdigit():
        return f"{period[:4]}年{int(period[5:])}月"
    return None


def shown_ref(natural_key: str, record_id: int) -> str:
    """How a letter names a record: its own number; a record that came without one is keyed
    by a hash (``h:3f2a…``), which no reader can look up, so it is named by the number the
    system gave it instead."""
    return f"（系统编号{record_id}）" if natural_key.startswith("h:") else natural_key


def template_name(kind: str) -> str:
    return TEMPLATE_FOR_KIND.get(kind, kind)


@per_definition
def _days(definition: Definition) -> dict[date, dict[str, Any]]:
    return {}


TimerWords = tuple[int, str | None, bool]
"""A timer's limit in days, its basis, and whether it counts working days."""


@per_definition
def _record_words(definition: Definition) -> tuple[dict[tuple[str, str], str],
                                                   dict[tuple[str, str], TimerWords]]:
    """The Chinese name of each (record kind, state), and each (record kind, timer)'s limit,
    basis and day count: looked up by id, not scanned for in every supervision letter."""
    lifecycles = definition.campaign.lifecycles
    states: dict[tuple[str, str], str] = {}
    timers: dict[tuple[str, str], TimerWords] = {}
    for kind in ("lead", "case"):
        life = getattr(lifecycles, kind, None) if lifecycles else None
        if life is not None:
            states.update({(kind, s.id): s.name for s in life.states})
            timers.update({(kind, t.id): (t.after_days, str(t.source) if t.source else None,
                                          t.calendar == "working_days") for t in life.timers})
    return states, timers


def _working_days(since: date, days: int) -> int | None:
    """Working days among the ``days`` after ``since``; None where the installed calendar
    does not know a year they reach (a run long after the timer fell due): the letter then
    gives the calendar days alone rather than fail the campaign's whole run."""
    try:
        return sum(is_working_day(since + timedelta(days=n)) for n in range(1, days + 1))
    except CalendarYearUnknown:
        return None


def _of_the_day(definition: Definition, today: date) -> dict[str, Any]:
    """What every letter of one campaign on one day says alike, built once per day: a national
    tick writes a thousand letters, and templates cannot change what they are given (the
    sandbox is immutable), so sharing these values between letters is safe."""
    days = _days(definition)
    if today not in days:
        c, index = definition.campaign, definition.bodies
        issuers = [name_on(index[i], today) if i in index else i for i in c.issuer]
        days.clear()  # a daemon moves on day by day; simulate walks forward too
        days[today] = {
            "campaign": {"id": c.id, "title": c.title, "doc_number": c.doc_number,
                         "issuers": issuers},
            "issuers": "、".join(i for i in issuers if i),
            "date_written": cn_date_written(today),
            "today": cn_date(today),
            "contacts": [{"name": ct.name, "role": ct.role, "phone": ct.phone,
                          "email": ct.email} for ct in c.contacts],
            "reports": {r.id: (r, {"id": r.id, "title": r.title, "source": str(r.source),
                                   "quota": r.quota.min if r.quota else None,
                                   "content": r.content}) for r in c.reports},
            "phases": {p.id: {"id": p.id, "name": p.name, "source": str(p.source),
                              "summary": p.summary,
                              "start": cn_date(p.window.start) if p.window else None,
                              "end": cn_date(p.window.end) if p.window else None}
                       for p in all_phases(c.phases)},
            "routing": str(c.routing.source) if c.routing else "",
            "names": {},
        }
    return days[today]


def _namer(definition: Definition, day: dict[str, Any], today: date,
           ) -> Callable[[str | None], str | None]:
    """A body's name as of ``today`` (an unknown id stands for itself), remembered in ``day``."""
    index, names = definition.bodies, day["names"]

    def name(body_id: str | None) -> str | None:
        if body_id is None:
            return None
        if body_id not in names:
            names[body_id] = name_on(index[body_id], today) if body_id in index else body_id
        return names[body_id]
    return name


def letter_contexts(definition: Definition, today: date) -> Callable[[Letter], dict[str, Any]]:
    """:func:`letter_context` for the letters of one day, with what they share (the day's
    values, the names, the record words) looked up once rather than once a letter."""
    day = _of_the_day(definition, today)
    name = _namer(definition, day, today)
    reports, phases, issuers = day["reports"], day["phases"], day["issuers"]
    states, timers = _record_words(definition)

    def context(letter: Letter) -> dict[str, Any]:
        report = reports.get(letter.report) if letter.report else None
        due = letter.due
        ctx: dict[str, Any] = {
            "kind": letter.kind,
            "campaign": day["campaign"],
            "recipient": name(letter.recipient),
            "owing_body": name(letter.body),
            "sender": name(report[0].to) if report else issuers,
            "date_written": day["date_written"],
            "today": day["today"],
            "contacts": day["contacts"],
            "report": report[1] if report else None,
            "phase": phases.get(letter.phase) if letter.phase else None,
            "record": None,
            "due": cn_date(due) if due else None,
            "days_left": (due - today).days if due and due >= today else None,
            "days_late": (today - due).days if due and today > due else None,
            "shortfall": letter.shortfall or None,
            "period": cn_period(letter.period),
            "direct": letter.recipient == letter.body,  # an escalation to the owing body
        }
        if report is None and letter.title is not None:  # feedback on a forwarded lead
            ctx["report"] = {"id": letter.report, "title": letter.title,
                             "source": day["routing"], "quota": None,
                             "content": None}  # owed under the routing rule
        if letter.record is not None:
            rec = letter.record
            limit, source, working = timers.get((rec.kind, letter.timer or ""),
                                                (None, None, False))
            days = (today - rec.since).days
            counted = _working_days(rec.since, days) if working else days
            ctx["record"] = {"kind": "线索" if rec.kind == "lead" else "案件",
                             "ref": shown_ref(rec.ref, rec.id),
                             "state": states.get((rec.kind, rec.state), rec.state),
                             "since": cn_date(rec.since), "days": days,
                             "limit": limit, "source": source,
                             "unit": "个工作日" if working else "天",
                             "counted": counted,  # in the limit's unit
                             # uncounted working days: past the timer's own day (the
                             # letter's), not more calendar days than the limit, which a
                             # working-day limit always is by the day it is reached
                             "over": limit is not None and (
                                 counted > limit if counted is not None
                                 else today > letter.scheduled if working
                                 else days > limit)}
        return ctx
    return context


def letter_context(definition: Definition, letter: Letter, today: date) -> dict[str, Any]:
    """Everything a template of ``letter.kind`` needs, in Chinese where a reader sees it."""
    return letter_contexts(definition, today)(letter)


def forwarding_context(definition: Definition, lead: Mapping[str, Any], ref: str, sender: str,
                       recipient: str, today: date, feedback_due: date | None = None,
                       ) -> dict[str, Any]:
    """What a forwarding letter (转办函) says: the lead's particulars, in the order and with
    the labels of the lead fields, and when feedback is due. Routing (which body forwards to
    which) is decided elsewhere; this only puts it into words."""
    c = definition.campaign
    day = _of_the_day(definition, today)
    name = _namer(definition, day, today)
    life = c.lifecycles.lead if c.lifecycles else None
    labels = {name: fl.label for name, fl in LEAD_FIELDS.items()}
    labels.update({fd.name: fd.label for fd in life.fields} if life else {})
    particulars = [{"label": label, "value": _shown(lead[name])} for name, label in labels.items()
                   if name in lead and lead[name] not in (None, "")]
    forward = next((t for t in life.transitions if t.trigger == "forward"), None) if life else None
    return {
        "kind": "forwarding",
        "campaign": day["campaign"],
        "recipient": name(recipient), "sender": name(sender),
        "date_written": day["date_written"], "today": day["today"],
        "contacts": day["contacts"],
        "record": {"kind": "线索", "ref": ref},
        "particulars": particulars,
        "source": str(forward.source) if forward and forward.source else None,
        "feedback_due": cn_date(feedback_due) if feedback_due else None,
    }


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return cn_date(value)
    return str(value)
