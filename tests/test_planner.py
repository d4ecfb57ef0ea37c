"""The planner: pure, idempotent, and it catches up without flooding."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.runtime.obligations import Obligation, obligations
from engine.runtime.planner import Snapshot, plan, plan_obligation
from engine.spec import load_definition
from tests.conftest import CAMPAIGNS

SOURCING = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
OBLIGATIONS = obligations(SOURCING)
BEIJING_LEADS = next(o for o in OBLIGATIONS
                     if o.report == "cross_province_leads" and o.body == "beijing_amr")


def test_sourcing_2017_owes_two_reports_from_each_of_31_provinces() -> None:
    assert len(OBLIGATIONS) == 62
    assert {o.due for o in OBLIGATIONS} == {date(2017, 10, 31), date(2018, 1, 31)}
    assert BEIJING_LEADS.recipient == "saic.tmo" and BEIJING_LEADS.quota == 5


def test_foreign_investment_2017_owes_a_monthly_return_per_body_and_month() -> None:
    obs = obligations(load_definition(CAMPAIGNS / "foreign_investment_2017.yaml"))
    monthly = [o for o in obs if o.period]
    assert {(o.period, o.due) for o in monthly} == {
        ("2017-09", date(2017, 10, 15)), ("2017-10", date(2017, 11, 15)),
        ("2017-11", date(2017, 12, 15))}
    assert {o.due for o in obs if not o.period} == {date(2017, 12, 31)}


def test_a_reminder_goes_out_seven_days_before_the_deadline() -> None:
    letters = plan_obligation(BEIJING_LEADS, Snapshot(), date(2017, 10, 24))
    assert [(lt.kind, lt.status, lt.recipient) for lt in letters] == [
        ("reminder", "send", "beijing_amr")]


def test_planning_is_idempotent_once_letters_are_recorded() -> None:
    day = date(2017, 10, 24)
    first = plan(SOURCING, OBLIGATIONS, Snapshot(), day)
    assert len(first) == 31
    again = plan(SOURCING, OBLIGATIONS, Snapshot(frozenset(lt.key for lt in first)), day)
    assert again == []


def test_a_run_a_week_late_sends_the_latest_letter_and_skips_the_superseded() -> None:
    letters = plan_obligation(BEIJING_LEADS, Snapshot(), date(2017, 11, 8))
    sent = [(lt.kind, lt.key.rsplit(":", 1)[1]) for lt in letters if lt.status == "send"]
    skipped = sorted(lt.key.split(":", 4)[4] for lt in letters if lt.status == "skip")
    assert sent == [("overdue", "1")]  # one chase, not a flood
    assert skipped == ["overdue:0", "reminder:1", "reminder:3", "reminder:7"]


def test_a_body_that_reported_is_not_chased_unless_below_its_quota() -> None:
    late = date(2017, 11, 2)
    done = Snapshot(submitted={BEIJING_LEADS.key: date(2017, 10, 30)},
                    counts={BEIJING_LEADS.key: 5})
    assert plan_obligation(BEIJING_LEADS, done, late) == []
    short = replace(done, counts={BEIJING_LEADS.key: 3})
    (letter,) = [lt for lt in plan_obligation(BEIJING_LEADS, short, late) if lt.status == "send"]
    assert (letter.kind, letter.shortfall) == ("overdue", 2)


def test_escalation_goes_to_the_superior_of_the_late_body() -> None:
    day = BEIJING_LEADS.due + timedelta(days=BEIJING_LEADS.policy.escalate_after or 0)
    letters = plan_obligation(BEIJING_LEADS, Snapshot(), day)
    (escalation,) = [lt for lt in letters if lt.kind == "escalation"]
    assert escalation.recipient == BEIJING_LEADS.superior and escalation.body == "beijing_amr"


@pytest.mark.parametrize("ob", OBLIGATIONS[:5], ids=lambda o: o.key)
def test_nothing_is_planned_before_the_first_reminder(ob: Obligation) -> None:
    assert plan_obligation(ob, Snapshot(), ob.due - timedelta(days=30)) == []


@settings(max_examples=150, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=160), max_size=40),
       st.sampled_from(["calendar_days", "working_days"]))
def test_whatever_days_the_runs_happen_on_each_letter_is_recorded_once_and_in_order(
        offsets: set[int], count: str) -> None:
    """Runs on any subset of days (downtime anywhere): every key is recorded at most once,
    nothing is sent before its day, no reminder is sent after the deadline, and at most one
    letter of a series goes out per run."""
    ob = replace(BEIJING_LEADS, policy=replace(BEIJING_LEADS.policy, calendar=count))
    start = date(2017, 9, 20)
    recorded: set[str] = set()
    for offset in sorted(offsets):
        today = start + timedelta(days=offset)
        letters = plan_obligation(ob, Snapshot(recorded=recorded), today)
        keys = [lt.key for lt in letters]
        assert len(keys) == len(set(keys)) and not recorded & set(keys)
        sent = [lt for lt in letters if lt.status == "send"]
        assert all(lt.scheduled <= today for lt in letters)
        assert all(today <= ob.due for lt in sent if lt.kind == "reminder")
        assert len([lt for lt in sent if lt.kind in ("reminder", "overdue")]) <= 1
        recorded |= set(keys)
