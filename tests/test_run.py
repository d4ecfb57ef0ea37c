"""`campaign run` on the store (SQLite and PostgreSQL): exactly once, catch-up, submissions."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from engine.cli import main
from engine.runtime.tick import record_submission, tick
from engine.store import records
from engine.store.db import connect
from engine.store.tables import definitions, letters, obligations, submissions
from tests.conftest import CAMPAIGNS
from tests.conftest_helpers import copy_example, replace_once

SHANGHAI = ZoneInfo("Asia/Shanghai")


def run(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)


@pytest.fixture
def loaded(db_url: str) -> str:
    assert run(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    return db_url


def tick_json(db_url: str, at: str) -> dict[str, object]:
    result = run(db_url, "run", "--at", at, "--campaign", "sourcing_2017", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def letter_count(db_url: str) -> int:
    with connect(db_url).engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(letters))


def test_two_runs_at_the_same_moment_send_each_letter_once(loaded: str) -> None:
    assert tick_json(loaded, "2017-10-24")["sent"] == 31
    assert tick_json(loaded, "2017-10-24")["sent"] == 0
    assert letter_count(loaded) == 31


def test_a_run_ten_days_behind_sends_only_what_is_still_relevant(loaded: str) -> None:
    summary = tick_json(loaded, "2017-11-08")
    assert summary["sent"] == 31  # one overdue notice per province, not the whole backlog
    assert summary["skipped"] == 31 * 4  # three reminders and the first overdue, superseded
    with connect(loaded).engine.connect() as conn:
        statuses = dict(conn.execute(select(letters.c.status, func.count()).group_by(
            letters.c.status)).all())
    assert statuses == {"planned": 31, "skipped": 124}


def test_a_late_run_files_the_letter_it_writes_under_the_day_it_writes_it(
        loaded: str, tmp_path: Path) -> None:
    """First run on 31 October: the 1-day reminder (due the 30th) goes out that day, dated
    that day and filed under it, in the store and in the outbox alike."""
    outbox = tmp_path / "outbox"
    assert run(loaded, "run", "--at", "2017-10-31", "--outbox", str(outbox)).exit_code == 0
    with connect(loaded).engine.connect() as conn:
        sent = conn.execute(select(letters.c.planned_for, letters.c.body).where(
            letters.c.status.in_(("planned", "sent")))).all()
    assert len(sent) == 31 and {day for day, _ in sent} == {date(2017, 10, 31)}
    assert all(body.rstrip().endswith("二〇一七年十月三十一日") for _, body in sent)
    assert {p.parent.name for p in outbox.rglob("*.md")} == {"2017-10-31"}


def test_a_submission_stops_the_chasing_and_a_short_one_does_not(loaded: str) -> None:
    ok = run(loaded, "submit", "--campaign", "sourcing_2017", "--report", "cross_province_leads",
             "--body", "beijing_amr", "--count", "5", "--at", "2017-10-30", "--actor", "北京市局")
    assert ok.exit_code == 0 and "按时" in ok.output
    run(loaded, "submit", "--campaign", "sourcing_2017", "--report", "cross_province_leads",
        "--body", "zhejiang_amr", "--count", "3", "--at", "2017-10-30", "--actor", "浙江省局")
    tick_json(loaded, "2017-11-01")
    with connect(loaded).engine.connect() as conn:
        chased = set(conn.scalars(select(letters.c.recipient_id).where(
            letters.c.kind == "overdue")))
    assert "beijing_amr" not in chased and "zhejiang_amr" in chased and len(chased) == 30


def test_a_summary_sent_on_the_evening_of_its_deadline_is_on_time_in_every_report(
        loaded: str) -> None:
    """Beijing time is eight hours ahead of UTC: 20:00 on 31 January is still that day."""
    ok = run(loaded, "submit", "--campaign", "sourcing_2017", "--report", "summary", "--body",
             "beijing_amr", "--at", "2018-01-31T20:00", "--actor", "北京市局")
    assert ok.exit_code == 0 and "按时" in ok.output
    shown = run(loaded, "report", "compliance", "--campaign", "sourcing_2017", "--at",
                "2018-02-05").output
    summary_row = next(line for line in shown.splitlines()
                       if "专项行动总结" in line and "北京市" in line)
    assert "按时报送" in summary_row and "2018-01-31" in summary_row.split("按时报送")[1]


def test_a_naive_time_given_to_the_library_is_beijing_time_when_stored(loaded: str) -> None:
    store = connect(loaded)
    assert record_submission(store, "sourcing_2017", "summary", "tianjin_amr", "",
                             actor="天津市局", at=datetime(2018, 1, 31, 23, 30))
    with store.engine.connect() as conn:
        stored = conn.scalar(select(submissions.c.submitted_at))
    moment = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
    assert moment.astimezone(SHANGHAI) == datetime(2018, 1, 31, 23, 30, tzinfo=SHANGHAI)


def test_leads_a_province_registered_count_towards_its_quota(loaded: str) -> None:
    store = connect(loaded)
    from engine.store import definitions

    def_id, _ = definitions.latest(store, "sourcing_2017")
    records.insert_records(store, "lead", "sourcing_2017", def_id, [
        records.NewRecord(f"JS-{i}", {"right_holder": f"权利人{i}"}, f"JS-{i}", "jiangsu_amr")
        for i in range(5)], actor="江苏省局", initial_state="collected")
    run(loaded, "submit", "--campaign", "sourcing_2017", "--report", "cross_province_leads",
        "--body", "jiangsu_amr", "--at", "2017-10-30", "--actor", "江苏省局")
    tick_json(loaded, "2017-11-01")
    with store.engine.connect() as conn:
        chased = set(conn.scalars(select(letters.c.recipient_id).where(
            letters.c.kind == "overdue")))
    assert "jiangsu_amr" not in chased


def test_submitting_an_unknown_obligation_is_a_clear_error(loaded: str) -> None:
    result = run(loaded, "submit", "--campaign", "sourcing_2017", "--report", "nope", "--body",
                 "beijing_amr", "--actor", "x")
    assert result.exit_code == 1 and "nope" in result.output


def test_run_without_loaded_campaigns_says_what_to_do(db_url: str) -> None:
    result = run(db_url, "run", "--at", "2017-10-24")
    assert result.exit_code == 1 and "campaign load" in result.output


def test_dry_run_writes_nothing(loaded: str) -> None:
    result = run(loaded, "run", "--at", "2017-10-24", "--dry-run")
    assert result.exit_code == 0 and "将发文书 31 份" in result.output
    assert letter_count(loaded) == 0


def test_four_runners_at_once_produce_every_letter_exactly_once(loaded: str) -> None:
    at = datetime(2017, 11, 20, 8, 30, tzinfo=SHANGHAI)
    errors: list[BaseException] = []
    sent: list[int] = []

    store = connect(loaded)  # one engine (a pool) shared by the runners, as threads would

    def runner() -> None:
        try:
            sent.append(tick(store, "sourcing_2017", at).sent)
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    total = letter_count(loaded)
    assert sorted(sent) == [0, 0, 0, 62]  # one runner did the work; the others found it done
    # per province: the latest overdue notice and the escalation sent; three reminders and the
    # three earlier overdue notices (1, 6 and 11 November) recorded as superseded
    assert total == 31 * 2 + 31 * 6


def test_a_new_version_moves_open_obligations_and_keeps_the_old_in_the_history(
        loaded: str, tmp_path: Path) -> None:
    assert tick_json(loaded, "2017-10-24")["sent"] == 31  # 7-day reminders for 31 October
    extended = copy_example(tmp_path)
    extended.write_text(replace_once(extended.read_text(encoding="utf-8"),
                                     "due: {date: 2017-10-31", "due: {date: 2017-11-14"),
                        encoding="utf-8")
    assert run(loaded, "load", str(extended)).exit_code == 0
    assert tick_json(loaded, "2017-11-01")["sent"] == 0  # no longer overdue: due 14 November
    with connect(loaded).engine.connect() as conn:
        dues = set(conn.scalars(select(obligations.c.due_on).where(
            obligations.c.report_id == "cross_province_leads")))
        versions = conn.execute(select(definitions.c.version, definitions.c.text).order_by(
            definitions.c.version)).all()
    assert dues == {date(2017, 11, 14)}
    assert [v for v, _ in versions] == [1, 2] and "2017-10-31" in versions[0].text
    assert tick_json(loaded, "2017-11-07")["sent"] == 0  # the 7-day reminder went already
    assert tick_json(loaded, "2017-11-11")["sent"] == 31  # 3 days before the new date
    assert tick_json(loaded, "2017-11-13")["sent"] == 31  # and the day before it
    assert letter_count(loaded) == 31 * 3


def test_letters_store_their_times_as_every_other_sqlite_row_does(tmp_path: Path) -> None:
    """Letters go to the driver directly on SQLite; their dates and timestamps must still be
    the text SQLAlchemy writes everywhere else (naive UTC, no offset), or text comparisons
    and ordering across tables would go wrong."""
    import re
    import sqlite3

    url = f"sqlite:///{tmp_path / 'times.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(CAMPAIGNS / "sourcing_2017.yaml"), "--db", url]
                         ).exit_code == 0
    assert runner.invoke(main, ["run", "--at", "2017-10-24", "--db", url]).exit_code == 0
    with sqlite3.connect(tmp_path / "times.db") as raw:
        stamps = raw.execute("SELECT created_at, planned_for FROM letters").fetchall()
        event_stamp = raw.execute("SELECT occurred_at FROM events LIMIT 1").fetchone()[0]
    shape = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
    assert stamps and shape.fullmatch(event_stamp)
    assert all(shape.fullmatch(created) and planned == "2017-10-24" for created, planned in stamps)
