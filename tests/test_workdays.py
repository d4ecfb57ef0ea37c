"""Working days by China's official calendar, and reminders counted in them."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from engine.runtime.obligations import obligations
from engine.runtime.planner import schedule
from engine.spec.loader import load_definition
from engine.spec.workdays import CalendarYearUnknown, is_working_day, known_years, shift
from tests.conftest import CAMPAIGNS


@pytest.mark.parametrize(("day", "working"), [
    (date(2017, 10, 2), False),  # National Day holiday, a Monday
    (date(2017, 9, 30), True),  # a Saturday worked in exchange (调休)
    (date(2017, 10, 9), True),  # back at work after the holiday
    (date(2017, 10, 14), False),  # an ordinary Saturday
    (date(2018, 2, 11), True),  # a Sunday worked before the Spring Festival
])
def test_the_official_calendar_knows_holidays_and_exchanged_weekends(day: date,
                                                                      working: bool) -> None:
    assert is_working_day(day) is working


def test_one_working_day_before_the_day_after_national_day_is_the_exchanged_saturday() -> None:
    assert shift(date(2017, 10, 9), -1, "working_days") == date(2017, 9, 30)
    assert shift(date(2017, 10, 9), -3, "working_days") == date(2017, 9, 28)
    assert shift(date(2017, 9, 29), 2, "working_days") == date(2017, 10, 9)


def test_calendar_days_ignore_holidays() -> None:
    assert shift(date(2017, 10, 9), -1) == date(2017, 10, 8)
    assert shift(date(2017, 10, 9), 0, "working_days") == date(2017, 10, 9)


def test_a_year_the_calendar_does_not_know_is_a_clear_error() -> None:
    last = known_years()[1]
    with pytest.raises(CalendarYearUnknown) as caught:
        shift(date(last, 12, 28), 10, "working_days")
    message = str(caught.value)
    assert str(last + 1) in message and "chinese-calendar" in message
    assert "calendar_days" in message  # says how to carry on


def test_working_day_reminders_land_on_working_days() -> None:
    definition = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
    first = obligations(definition)[0]
    working = dataclasses.replace(first, due=date(2017, 10, 9), policy=dataclasses.replace(
        first.policy, calendar="working_days", before_due=(3, 1)))
    days = {(kind, step): day for _, kind, step, day, _, _ in schedule(working)}
    assert days[("reminder", 1)] == date(2017, 9, 30)
    assert days[("reminder", 3)] == date(2017, 9, 28)
    assert days[("overdue", 0)] == date(2017, 10, 10)
    assert all(is_working_day(day) for day in days.values())
