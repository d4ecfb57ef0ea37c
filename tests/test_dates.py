"""Pure date logic: every way a notice states a deadline becomes concrete days."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from engine.spec.dates import add_months, day_in_month, deadlines, month_bounds
from engine.spec.model import (
    Anchor,
    Campaign,
    EndOfMonth,
    OnDate,
    Phase,
    Recurring,
    Relative,
    Report,
    Window,
)


def campaign(*reports: Report, phases: tuple[Phase, ...] = ()) -> Campaign:
    return Campaign(id="c", title="t", kind="campaign", issuer=("x",), issued=date(2017, 9, 1),
                    registries=("r.yaml",), period=Window(start=date(2017, 9, 1),
                                                          end=date(2018, 2, 28)),
                    reports=reports, phases=phases)


def rep(id_: str, due: object) -> Report:
    return Report(id=id_, title="t", kind="other", from_="a", to="b", due=due, source="一")


def test_end_of_month_deadline_is_the_last_day_of_that_month() -> None:
    r = rep("r", EndOfMonth(end_of_month="2018-01"))
    assert [d.due for d in deadlines(campaign(r), r)] == [date(2018, 1, 31)]


@pytest.mark.parametrize("month,last", [("2017-02", 28), ("2016-02", 29), ("2017-04", 30),
                                        ("2017-12", 31)])
def test_month_bounds_know_short_months_and_leap_years(month: str, last: int) -> None:
    assert month_bounds(month)[1].day == last


def test_monthly_return_due_on_the_15th_covers_the_month_before() -> None:
    r = rep("r", Recurring(every="month", day=15, first="2017-09", last="2017-11"))
    got = [(d.period, d.due) for d in deadlines(campaign(r), r)]
    assert got == [("2017-09", date(2017, 10, 15)), ("2017-10", date(2017, 11, 15)),
                   ("2017-11", date(2017, 12, 15))]


def test_recurring_report_crossing_the_year_end_rolls_into_january() -> None:
    r = rep("r", Recurring(every="month", day=15, first="2017-12", last="2017-12"))
    assert deadlines(campaign(r), r)[0].due == date(2018, 1, 15)


def test_day_31_in_a_30_day_month_is_its_last_day() -> None:
    assert day_in_month("2017-11", 31) == date(2017, 11, 30)


def test_add_months_wraps_years_both_ways() -> None:
    assert add_months("2017-12", 1) == "2018-01"
    assert add_months("2018-01", -1) == "2017-12"


def test_relative_due_counts_from_a_phase_edge() -> None:
    phase = Phase(id="collect", name="收集", window=Window(start=date(2017, 10, 1),
                                                          end=date(2017, 10, 31)), source="一")
    r = rep("r", Relative(relative_to=Anchor(phase="collect", edge="end"), offset_days=-6))
    assert deadlines(campaign(r, phases=(phase,)), r)[0].due == date(2017, 10, 25)


def test_relative_due_counts_from_another_report() -> None:
    parent = rep("parent", OnDate(date=date(2017, 10, 31)))
    child = rep("child", Relative(relative_to=Anchor(report="parent"), offset_days=-6))
    assert deadlines(campaign(parent, child), child)[0].due == date(2017, 10, 25)


def test_plain_date_due_is_that_day() -> None:
    r = rep("r", date(2022, 8, 26))
    c = campaign(r)
    assert deadlines(c, r)[0].due == date(2022, 8, 26)
    assert deadlines(replace(c), r) == deadlines(c, r)
