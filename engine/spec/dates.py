"""Pure date logic: every way a notice states a deadline, resolved to concrete days.

A deadline is inclusive: "by 31 October" means through the end of that day in the campaign's
time zone; the runtime turns the day into a moment. Nothing here touches a clock or a database.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from engine.spec.model import (
    Campaign,
    Due,
    EndOfMonth,
    OnDate,
    Phase,
    Recurring,
    Relative,
    Report,
)


class DateError(ValueError):
    """A deadline that cannot be resolved (a cycle, an undated phase); the rules report these
    as located errors before anything downstream asks."""


class DateCycle(DateError):
    """Reports due relative to each other in a circle: none of them has a date."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """One concrete due day; ``period`` names what a recurring report covers (``2017-09``)."""

    due: date
    period: str | None = None
    covers_start: date | None = None
    covers_end: date | None = None
    wording: str | None = None


def month_bounds(month: str) -> tuple[date, date]:
    year, mon = (int(p) for p in month.split("-"))
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def add_months(month: str, n: int) -> str:
    year, mon = (int(p) for p in month.split("-"))
    total = year * 12 + (mon - 1) + n
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def months(first: str, last: str) -> Iterator[str]:
    current = first
    while current <= last:
        yield current
        current = add_months(current, 1)


def day_in_month(month: str, day: int) -> date:
    """Day ``day`` of ``month``, clamped to its last day (a "31st" in April is the 30th)."""
    start, end = month_bounds(month)
    return start.replace(day=min(day, end.day))


def all_phases(phases: tuple[Phase, ...]) -> Iterator[Phase]:
    for phase in phases:
        yield phase
        yield from all_phases(phase.phases)


def phase_stretches(campaign: Campaign) -> tuple[tuple[str, date], ...]:
    """The stretches of the campaign's timeline: (phase, the day it is entered), in order.

    Phases are listed in the notice's order and their windows may overlap:
    foreign_investment_2017 runs 组织实施 over all of September-December, with 动员部署 on
    8-10 September and 经验总结 in December inside it. On a day, the campaign is in the open
    phase that began last (the more specific one; of two begun the same day, the one ending
    first); where no phase is open it stays where it was. No phase is entered before every
    phase listed ahead of it has begun, so the campaign does not 组织实施 before it has
    mobilised. A phase may give two stretches (组织实施 again after 动员部署 ends); one that
    is never the phase a day calls for gives none (validation warns of it)."""
    c = campaign
    dated = [(p.id, p.window.start, p.window.end) for p in c.phases if p.window is not None]
    days = sorted({c.period.start} | {d for _, start, end in dated
                                      for d in (start, end + timedelta(days=1))
                                      if c.period.start <= d <= c.period.end})
    out: list[tuple[str, date]] = []
    for day in days:
        begun = []
        for phase in dated:
            if phase[1] > day:
                break  # a phase listed ahead has not begun: none after it may either
            begun.append(phase)
        open_ = [phase for phase in begun if day <= phase[2]]
        if not open_:
            continue  # between windows: still in the phase last entered (or pending)
        pick = max(open_, key=lambda phase: (phase[1], -phase[2].toordinal()))[0]
        if not out or out[-1][0] != pick:
            out.append((pick, day))
    return tuple(out)


def deadlines(campaign: Campaign, report: Report) -> tuple[Deadline, ...]:
    """Every due day of ``report``, in order."""
    return _resolve(campaign, report.due, (report.id,))


def _resolve(campaign: Campaign, due: Due, chain: tuple[str, ...]) -> tuple[Deadline, ...]:
    if isinstance(due, date):
        return (Deadline(due),)
    if isinstance(due, OnDate):
        return (Deadline(due.date, wording=due.wording),)
    if isinstance(due, EndOfMonth):
        return (Deadline(month_bounds(due.end_of_month)[1], wording=due.wording),)
    if isinstance(due, Recurring):
        out = []
        for month in months(due.first, due.last):
            start, end = month_bounds(month)
            due_month = add_months(month, 1) if due.covers == "previous_month" else month
            out.append(Deadline(day_in_month(due_month, due.day), month, start, end, due.wording))
        return tuple(out)
    if isinstance(due, Relative):
        base = _anchor_day(campaign, due, chain)
        return (Deadline(base + timedelta(days=due.offset_days), wording=due.wording),)
    raise DateError(f"unknown due form {due!r}")


def _anchor_day(campaign: Campaign, due: Relative, chain: tuple[str, ...]) -> date:
    anchor = due.relative_to
    if anchor.date is not None:
        return anchor.date
    if anchor.phase is not None:
        phase = next((p for p in all_phases(campaign.phases) if p.id == anchor.phase), None)
        if phase is None or phase.window is None:
            raise DateError(f"phase {anchor.phase!r} has no window")
        return phase.window.start if anchor.edge == "start" else phase.window.end
    if anchor.report is not None:
        if anchor.report in chain:
            raise DateCycle(f"cycle through {' -> '.join((*chain, anchor.report))}")
        other = next((r for r in campaign.reports if r.id == anchor.report), None)
        if other is None:
            raise DateError(f"unknown report {anchor.report!r}")
        days = _resolve(campaign, other.due, (*chain, anchor.report))
        if len(days) != 1:
            raise DateError(f"report {anchor.report!r} is recurring")
        return days[0].due
    raise DateError("anchor names nothing")
