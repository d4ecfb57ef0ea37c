"""Counting days the way a policy says: calendar days, or China's official working days.

Working days follow the State Council's yearly holiday notice, including the weekend days
made working days in exchange (调休), as kept by the ``chinese-calendar`` package. That package
knows a fixed range of years and must be upgraded each December when the next year's notice
comes out; a year it does not know is an error that says so, never a silent guess.

Pure: no clock, no database.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

import chinese_calendar

from engine.spec.dates import DateError

DayCount = Literal["calendar_days", "working_days"]


class CalendarYearUnknown(DateError):
    """A working-day count that reaches a year the installed calendar does not cover."""

    def __init__(self, year: int) -> None:
        first, last = known_years()
        super().__init__(
            f"工作日历不含 {year} 年：已安装的 chinese-calendar {_package_version()} 只收录 "
            f"{first}—{last} 年的法定节假日和调休安排。请升级 chinese-calendar"
            f"（pip install -U chinese-calendar），或将提醒规则的 calendar 改为 calendar_days。")
        self.year = year


def _package_version() -> str:
    try:
        return version("chinese-calendar")
    except PackageNotFoundError:  # installed under its other distribution name
        return version("chinesecalendar")


@cache
def known_years() -> tuple[int, int]:
    """The first and last year the installed calendar knows."""
    years = {d.year for d in chinese_calendar.holidays} | {d.year for d in
                                                           chinese_calendar.workdays}
    return min(years), max(years)


def is_working_day(day: date) -> bool:
    first, last = known_years()
    if not first <= day.year <= last:
        raise CalendarYearUnknown(day.year)
    return bool(chinese_calendar.is_workday(day))


def shift(day: date, days: int, count: DayCount = "calendar_days") -> date:
    """The day ``days`` days after ``day`` (before it when negative).

    In working days, "3 working days before the 31st" is the third working day counted back
    from the 31st, whatever the 31st itself is; 0 leaves the day as it is."""
    if count == "calendar_days" or days == 0:
        return day + timedelta(days=days)
    step = timedelta(days=1 if days > 0 else -1)
    remaining = abs(days)
    current = day
    while remaining:
        current += step
        if is_working_day(current):
            remaining -= 1
    return current

