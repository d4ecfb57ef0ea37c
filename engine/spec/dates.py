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
