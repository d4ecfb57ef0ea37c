"""Lifecycle timers and the campaign's phases, through ``campaign run`` on a real store."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

from engine.cli import main
from engine.letters import LetterRenderer, letter_context
from engine.records.lifecycle import lifecycle_machines
from engine.runtime.phases import advance, phase_on, phase_order
from engine.runtime.planner import Letter
from engine.runtime.simulate import SimulationData, simulate
from engine.runtime.timers import TimedRecord
from engine.spec.loader import load_definition
from engine.store import definitions, records
from engine.store.db import connect
from engine.store.tables import campaign_phases, events, leads, letters
from tests.conftest import CAMPAIGNS
from tests.conftest_helpers import copy_example, replace_once

SHANGHAI = ZoneInfo("Asia/Shanghai")


def cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)


def run_at(db_url: str, day: str) -> dict[str, object]:
    result = cli(db_url, "run", "--at", day, "--campaign", "sourcing_2017", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def loaded(db_url: str) -> str:
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    return db_url


def forwarded_lead(db_url: str, key: str, on: datetime, body: str = "zhejiang_amr") -> int:
    """A lead reported to the office and forwarded to ``body`` at ``on``."""
    store = connect(db_url)
    def_id, definition = definitions.latest(store, "sourcing_2017")
    records.insert_records(store, "lead", "sourcing_2017", def_id,
                           [records.NewRecord(key, {"right_holder": "某权利人"}, key, body)],
                           actor="商标局", initial_state="reported")
    lead_id = next(r["id"] for r in records.listing(store, "lead") if r["natural_key"] == key)
    with store.engine.begin() as conn:
        records.move_in(conn, "lead", lead_id, "forward", lifecycle_machines(definition)["lead"],
                        actor="商标局", at=on)
    return lead_id


def supervision_letters(db_url: str) -> list[tuple[str, int | None, date, str | None]]:
    with connect(db_url).engine.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            select(letters.c.recipient_id, letters.c.record_id, letters.c.planned_for,
                   letters.c.body).where(letters.c.kind == "supervision"))]


def test_sourcing_2017_supervises_a_forwarded_lead_not_opened_within_15_days(loaded: str) -> None:
    lead = forwarded_lead(loaded, "ZJ-001", datetime(2017, 11, 1, 10, tzinfo=SHANGHAI))
    run_at(loaded, "2017-11-15")
    assert supervision_letters(loaded) == []  # 14 days: still in time
    run_at(loaded, "2017-11-16")
    run_at(loaded, "2017-11-17")  # the next day's run does not repeat it
    [(recipient, record_id, planned, body)] = supervision_letters(loaded)
    assert (recipient, record_id, planned) == ("zhejiang_amr", lead, date(2017, 11, 16))
    assert "ZJ-001" in body and "已转办至涉案省" in body and "已15天，已达15天的办理时限" in body


def test_a_lead_that_came_without_a_number_is_named_by_its_system_number(loaded: str) -> None:
    """A lead imported without 线索编号 is keyed by a hash no reader can look up."""
    key = "h:" + "3f" * 16
    lead = forwarded_lead(loaded, key, datetime(2017, 11, 1, 10, tzinfo=SHANGHAI))
    run_at(loaded, "2017-11-16")
    [(_, _, _, body)] = supervision_letters(loaded)
    assert f"# 关于线索（系统编号{lead}）办理情况的督办函" in body and "h:" not in body


def test_a_working_day_limit_is_stated_in_working_days(tmp_path: Path) -> None:
    """A lead forwarded on 28 September 2017 spans the National Day holiday: its 15 working
    days run to 25 October, 27 calendar days, and the letter says which is which."""
    path = copy_example(tmp_path)
    path.write_text(replace_once(
        path.read_text(encoding="utf-8"),
        "        state: forwarded\n        after_days: 15\n",
        "        state: forwarded\n        after_days: 15\n        calendar: working_days\n"),
        encoding="utf-8")
    definition = load_definition(path)
    data = SimulationData(records=(TimedRecord("lead", 1, "JS-9", "forwarded", "jiangsu_amr",
                                               date(2017, 9, 28)),))
    [(day, letter)] = [(day, lt) for day, lt in simulate(definition, date(2017, 9, 28),
                                                         date(2017, 12, 31), data)
                       if lt.kind == "supervision"]
    text = LetterRenderer(definition).render("supervision",
                                             letter_context(definition, letter, day))
    assert day == date(2017, 10, 25)
    assert "已27天（15个工作日），已达15个工作日的办理时限" in text
    # a run long after, into a year the installed calendar does not know yet: the letter
    # gives the calendar days alone instead of failing the campaign's run
    late = Letter("late", "supervision", definition.campaign.id, "jiangsu_amr",
                  date(2030, 1, 4), body="jiangsu_amr", timer="forwarded_unopened",
                  record=TimedRecord("lead", 1, "JS-9", "forwarded", "jiangsu_amr",
                                     date(2029, 12, 3)))
    renderer = LetterRenderer(definition)
    on_the_day, day_after = (renderer.render("supervision", letter_context(definition, late, d))
                             for d in (late.scheduled, late.scheduled + timedelta(days=1)))
    assert "已32天，已达15个工作日的办理时限" in on_the_day  # reached, not exceeded
    assert "已33天，超过15个工作日的办理时限" in day_after


def test_a_lead_opened_as_a_case_in_time_is_not_supervised(loaded: str) -> None:
    lead = forwarded_lead(loaded, "ZJ-002", datetime(2017, 11, 1, 10, tzinfo=SHANGHAI))
    store = connect(loaded)
    _, definition = definitions.latest(store, "sourcing_2017")
    records.move(store, "lead", lead, "open_case", lifecycle_machines(definition)["lead"],
                 actor="浙江省局")
    run_at(loaded, "2017-11-20")
    assert supervision_letters(loaded) == []


def test_a_run_far_behind_still_supervises_each_overdue_lead_once(loaded: str) -> None:
    forwarded_lead(loaded, "ZJ-003", datetime(2017, 11, 1, 10, tzinfo=SHANGHAI))
    forwarded_lead(loaded, "AH-001", datetime(2017, 11, 20, 10, tzinfo=SHANGHAI), "anhui_amr")
    run_at(loaded, "2017-12-31")
    run_at(loaded, "2017-12-31")
    assert sorted(r[0] for r in supervision_letters(loaded)) == ["anhui_amr", "zhejiang_amr"]


def test_simulate_shows_supervision_letters_for_leads_in_the_data() -> None:
    definition = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
    data = SimulationData(records=(TimedRecord("lead", 1, "JS-9", "forwarded", "jiangsu_amr",
                                               date(2017, 11, 3)),))
    found = [(day, lt.recipient) for day, lt in simulate(definition, date(2017, 11, 1),
                                                         date(2017, 12, 31), data)
             if lt.kind == "supervision"]
    assert found == [(date(2017, 11, 18), "jiangsu_amr")]


def amended_timers(tmp_path: Path) -> Path:
    """sourcing_2017 with the forwarded-lead timer escalating and the assigned-lead timer
    declining the lead after 20 days (a ``fire`` timer)."""
    path = copy_example(tmp_path)
    text = path.read_text(encoding="utf-8")
    text = replace_once(text, "        state: assigned\n        after_days: 15\n"
                              "        action: supervise\n",
                        "        state: assigned\n        after_days: 20\n        action: fire\n"
                        "        trigger: decline\n")
    text = replace_once(text, "        after_days: 15\n        action: supervise\n",
                        "        after_days: 15\n        action: escalate\n")
    path.write_text(text, encoding="utf-8")
    return path


def test_an_escalating_timer_writes_to_the_superior_of_the_handling_body(tmp_path: Path) -> None:
    definition = load_definition(amended_timers(tmp_path))
    data = SimulationData(records=(
        TimedRecord("lead", 1, "ZJ-1", "forwarded", "zhejiang_amr", date(2017, 11, 1)),
        TimedRecord("lead", 2, "ZJ-2", "assigned", "zhejiang_amr", date(2017, 11, 1))))
    found = [(day, lt.kind, lt.recipient, lt.record.ref if lt.record else None)
             for day, lt in simulate(definition, date(2017, 11, 1), date(2017, 12, 31), data)
             if lt.record is not None]
    assert found == [(date(2017, 11, 16), "supervision", "samr", "ZJ-1")]


def test_a_firing_timer_moves_the_record_and_says_who_did_it(db_url: str,
                                                            tmp_path: Path) -> None:
    assert cli(db_url, "load", str(amended_timers(tmp_path))).exit_code == 0
    store = connect(db_url)
    def_id, definition = definitions.latest(store, "sourcing_2017")
    records.insert_records(store, "lead", "sourcing_2017", def_id,
                           [records.NewRecord("ZJ-2", {}, "ZJ-2", "zhejiang_amr")],
                           actor="商标局", initial_state="forwarded")
    with store.engine.begin() as conn:
        lead = conn.scalar(select(leads.c.id))
        records.move_in(conn, "lead", lead, "assign", lifecycle_machines(definition)["lead"],
                        actor="浙江省局", at=datetime(2017, 11, 1, 9, tzinfo=SHANGHAI))
    assert run_at(db_url, "2017-11-20")["fired"] == 0
    assert run_at(db_url, "2017-11-21")["fired"] == 1
    assert run_at(db_url, "2017-11-22")["fired"] == 0
    assert records.get(store, "lead", lead)["state"] == "declined"
    last = records.history(store, "lead", lead)[-1]
    assert (last["trigger"], last["actor"]) == ("decline", "campaign run")


# --- phases -------------------------------------------------------------------------------------
def test_sourcing_2017_moves_through_its_phases_by_date() -> None:
    definition = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
    assert phase_on(definition, date(2017, 8, 31)) == "pending"
    assert phase_on(definition, date(2017, 10, 24)) == "implement"
    assert phase_on(definition, date(2018, 3, 1)) == "closed"
    walk = advance(definition, "pending", date(2018, 1, 5))
    assert [(s.source, s.dest, s.day) for s in walk] == [
        ("pending", "mobilise", date(2017, 9, 1)), ("mobilise", "implement", date(2017, 10, 1)),
        ("implement", "summarise", date(2018, 1, 1))]
    assert advance(definition, "summarise", date(2017, 10, 5)) == []  # never backwards


@pytest.mark.parametrize(("day", "phase"), [
    (date(2017, 9, 5), "pending"),  # 组织实施 spans 9-12月, but nothing before mobilising
    (date(2017, 9, 8), "mobilise"), (date(2017, 9, 10), "mobilise"),
    (date(2017, 9, 11), "implement"), (date(2017, 11, 30), "implement"),
    (date(2017, 12, 1), "summarise"), (date(2017, 12, 31), "summarise"),
    (date(2018, 1, 1), "closed")])
def test_foreign_investment_2017_mobilises_until_10_september_then_implements_then_sums_up(
        day: date, phase: str) -> None:
    """二、（一）-（三): the phases' windows overlap; the campaign is in the one that began
    last among those still open, in the notice's order."""
    definition = load_definition(CAMPAIGNS / "foreign_investment_2017.yaml")
    assert phase_on(definition, day) == phase
    steps = advance(definition, "pending", day)
    assert (steps[-1].dest if steps else "pending") == phase


def test_foreign_investment_2017_records_the_day_it_entered_each_phase() -> None:
    definition = load_definition(CAMPAIGNS / "foreign_investment_2017.yaml")
    walk = advance(definition, "pending", date(2017, 12, 5))
    assert [(s.dest, s.day) for s in walk] == [
        ("mobilise", date(2017, 9, 8)), ("implement", date(2017, 9, 11)),
        ("summarise", date(2017, 12, 1))]
    assert advance(definition, "implement", date(2017, 9, 9)) == []  # never backwards


def fie_with_phases_listed(tmp_path: Path, first: str, second: str) -> Path:
    """foreign_investment_2017 with its first two phases' blocks in the given order."""
    copy_example(tmp_path)  # the body registries beside it
    text = (CAMPAIGNS / "foreign_investment_2017.yaml").read_text(encoding="utf-8")
    start, middle, end = (text.index(f"  - id: {p}\n") for p in
                          ("mobilise", "implement", "summarise"))
    blocks = {"mobilise": text[start:middle], "implement": text[middle:end]}
    path = tmp_path / "foreign_investment_2017.yaml"
    path.write_text(text[:start] + blocks[first] + blocks[second] + text[end:], encoding="utf-8")
    return path


def test_a_phase_holding_another_is_entered_again_when_the_inner_one_ends(
        tmp_path: Path) -> None:
    """Listed 组织实施 first: it begins on 1 September, 动员部署 runs inside it on 8-10
    September, and the campaign then goes back to 组织实施, not staying in 动员部署."""
    definition = load_definition(fie_with_phases_listed(tmp_path, "implement", "mobilise"))
    walk = advance(definition, "pending", date(2017, 12, 5))
    assert [(s.dest, s.day) for s in walk] == [
        ("implement", date(2017, 9, 1)), ("mobilise", date(2017, 9, 8)),
        ("implement", date(2017, 9, 11)), ("summarise", date(2017, 12, 1))]
    assert [phase_on(definition, date(2017, 9, d)) for d in (5, 9, 20)] == [
        "implement", "mobilise", "implement"]
    # stored in the first 组织实施 stretch, a run on 20 September records what followed it
    assert [(s.source, s.dest) for s in advance(definition, "implement", date(2017, 9, 20),
                                                date(2017, 9, 1))] == [
        ("implement", "mobilise"), ("mobilise", "implement")]
    assert advance(definition, "implement", date(2017, 9, 20), date(2017, 9, 11)) == []


def test_a_stored_phase_an_amendment_removed_goes_on_from_where_the_new_dates_put_it(
        ) -> None:
    definition = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
    walk = advance(definition, "dropped_phase", date(2018, 1, 5), date(2017, 10, 3))
    assert [(s.source, s.dest, s.day, s.corrected) for s in walk] == [
        ("dropped_phase", "implement", date(2017, 10, 3), True),  # a step of its own
        ("implement", "summarise", date(2018, 1, 1), False)]


@pytest.mark.parametrize(("moved_to", "run_on", "corrected_to"), [
    # later: on the 10th the new dates put the 8th before anything began
    (("2017-09-15", "2017-09-17"), date(2017, 9, 10), "pending"),
    # earlier: by the new dates the 8th is already 组织实施, not the 5th it began
    (("2017-09-02", "2017-09-04"), date(2017, 9, 20), "implement"),
], ids=["later", "earlier"])
def test_a_stored_phase_an_amendment_moved_is_corrected_on_its_stored_day(
        tmp_path: Path, moved_to: tuple[str, str], run_on: date, corrected_to: str) -> None:
    """动员部署 was entered on 8 September; a new version moves it. The next run corrects the
    stored phase to where the new dates put the 8th, as a step dated the 8th (the day the
    trail says the campaign was in 动员部署), rather than keep it until the dates catch up
    or date a step before the campaign had got there."""
    path = fie_with_phases_listed(tmp_path, "mobilise", "implement")
    path.write_text(replace_once(path.read_text(encoding="utf-8"), "start: 2017-09-08\n"
                                 "      end: 2017-09-10\n", f"start: {moved_to[0]}\n"
                                 f"      end: {moved_to[1]}\n"), encoding="utf-8")
    definition = load_definition(path)
    walk = advance(definition, "mobilise", run_on, date(2017, 9, 8))
    assert [(s.source, s.dest, s.day, s.corrected) for s in walk] == [
        ("mobilise", corrected_to, date(2017, 9, 8), True)]
    assert phase_on(definition, run_on) == corrected_to


def test_a_run_dated_before_the_stored_phase_leaves_it_alone() -> None:
    """A run with an earlier --at than the day the stored phase was entered neither moves
    nor corrects it, even when the current version no longer has that phase."""
    definition = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
    assert advance(definition, "dropped_phase", date(2017, 10, 1), date(2017, 10, 3)) == []
    assert advance(definition, "summarise", date(2017, 10, 1), date(2018, 1, 1)) == []


def fie_with_summary_first(tmp_path: Path) -> Path:
    """foreign_investment_2017 with 经验总结 listed ahead of 动员部署 and 组织实施."""
    copy_example(tmp_path)
    text = (CAMPAIGNS / "foreign_investment_2017.yaml").read_text(encoding="utf-8")
    start, last = text.index("  - id: mobilise\n"), text.index("  - id: summarise\n")
    end = text.index("\ntasks:\n")  # the phases end with a blank line before the tasks
    path = tmp_path / "foreign_investment_2017.yaml"
    path.write_text(text[:start] + text[last:end] + text[start:last] + text[end:],
                    encoding="utf-8")
    return path


def never_entered(result: Result) -> list[dict]:
    return [d for d in json.loads(result.output)["diagnostics"]
            if d["code"] == "phase-never-entered"]


def test_validate_warns_of_a_phase_its_order_means_no_run_will_enter(tmp_path: Path) -> None:
    """经验总结 listed first: nothing begins before December, so 动员部署 and 组织实施 would
    never be the campaign's phase. Validation says so, where each phase is written."""
    path = fie_with_summary_first(tmp_path)
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(path)])
    found = never_entered(result)
    assert result.exit_code == 0 and len(found) == 2, result.output
    assert sorted(d["message"] for d in found) == [
        "按现有各阶段的起止日期和排列顺序，专项不会进入阶段“implement”",
        "按现有各阶段的起止日期和排列顺序，专项不会进入阶段“mobilise”"]


def test_an_error_in_another_file_does_not_silence_the_warning(tmp_path: Path) -> None:
    """One validate call over two notices: sourcing_2017 with a reversed window is an error
    of its own; the reordered foreign_investment_2017 is still warned of, phase by phase."""
    fie = fie_with_summary_first(tmp_path)
    sourcing = tmp_path / "sourcing_2017.yaml"
    sourcing.write_text(replace_once(sourcing.read_text(encoding="utf-8"),
                                     "window: {start: 2017-09-01, end: 2017-09-30,",
                                     "window: {start: 2017-09-30, end: 2017-09-01,"),
                        encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(sourcing), str(fie)])
    codes = [d["code"] for d in json.loads(result.output)["diagnostics"]]
    assert result.exit_code != 0 and "window-reversed" in codes, result.output
    assert sorted(d["file"].rsplit("/", 1)[-1] for d in never_entered(result)) == [
        "foreign_investment_2017.yaml"] * 2, result.output


def test_of_two_phases_begun_the_same_day_the_narrower_comes_first(tmp_path: Path) -> None:
    path = fie_with_phases_listed(tmp_path, "implement", "mobilise")
    path.write_text(replace_once(path.read_text(encoding="utf-8"), "start: 2017-09-08\n",
                                 "start: 2017-09-01\n"), encoding="utf-8")
    definition = load_definition(path)
    assert [pid for pid, _ in phase_order(definition)] == [
        "mobilise", "implement", "summarise"]


def test_a_run_records_each_phase_passed_in_the_audit_trail(loaded: str) -> None:
    assert run_at(loaded, "2017-09-05")["phase"] == "mobilise"
    assert run_at(loaded, "2018-01-10")["phase"] == "summarise"  # after downtime: two steps
    run_at(loaded, "2018-01-10")
    with connect(loaded).engine.connect() as conn:
        stored = conn.execute(select(campaign_phases)).one()
        trail = [(e.from_state, e.to_state, e.actor) for e in conn.execute(
            select(events).where(events.c.record_kind == "campaign").order_by(events.c.id))]
    assert (stored.phase, stored.since) == ("summarise", date(2018, 1, 1))
    assert trail == [("pending", "mobilise", "campaign run"),
                     ("mobilise", "implement", "campaign run"),
                     ("implement", "summarise", "campaign run")]


def test_the_trail_tells_a_correction_from_a_move_the_dates_made(loaded: str) -> None:
    """A stored phase the current version no longer has (as after an amendment dropped it)
    is put right as a step recorded as a correction, not as entered by date."""
    run_at(loaded, "2017-10-03")  # in 组织实施 since 1 October
    with connect(loaded).engine.begin() as conn:
        conn.execute(update(campaign_phases).values(phase="dropped_phase"))
        seen = conn.execute(select(func.max(events.c.id))).scalar_one()
    run_at(loaded, "2018-01-05")
    with connect(loaded).engine.connect() as conn:
        trail = [(e.trigger, e.from_state, e.to_state, e.reason) for e in conn.execute(
            select(events).where(events.c.record_kind == "campaign", events.c.id > seen)
            .order_by(events.c.id))]
    assert trail == [
        ("correct", "dropped_phase", "implement",
         "按现行阶段起止日期更正所处阶段（原记自2017-10-01起）"),
        ("advance", "implement", "summarise", "按日期进入（2018-01-01）")]


def test_a_phase_that_asks_for_it_sends_a_deployment_notice_once(tmp_path: Path) -> None:
    path = copy_example(tmp_path)
    text = path.read_text(encoding="utf-8")
    text = replace_once(text, "    type: implement\n",
                        "    type: implement\n    notify: {registry: provinces, level: province,"
                        " exclude: xpcc_amr}\n")
    path.write_text(text, encoding="utf-8")
    definition = load_definition(path)
    notices = [(day, lt.recipient) for day, lt in simulate(
        definition, date(2017, 9, 20), date(2017, 10, 20)) if lt.kind == "phase_start"]
    assert len(notices) == 31 and {day for day, _ in notices} == {date(2017, 10, 1)}


def test_leads_in_the_store_have_no_timer_letters_before_their_state_is_timed(
        loaded: str) -> None:
    store = connect(loaded)
    def_id, _ = definitions.latest(store, "sourcing_2017")
    records.insert_records(store, "lead", "sourcing_2017", def_id,
                           [records.NewRecord("JS-1", {}, "JS-1", "jiangsu_amr")],
                           actor="江苏省局", initial_state="collected")
    run_at(loaded, "2017-12-31")
    with store.engine.connect() as conn:
        assert conn.scalar(select(leads.c.state)) == "collected"
    assert supervision_letters(loaded) == []
