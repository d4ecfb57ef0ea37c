"""Amendments (issue 6, item 4): a changed definition for a running campaign, on both backends.

The check the issue names: sourcing_2017's lead deadline extended by two weeks mid-campaign moves
every open obligation, re-plans reminders, and sends nothing twice. ``campaign diff`` says so
before the new version is loaded; reports added and dropped behave as obligations created and
withdrawn, and what a body already fulfilled is never reopened or withdrawn.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import func, select

from engine.cli import main
from engine.spec.diff import diff
from engine.spec.loader import load_definition
from engine.store.db import connect
from engine.store.tables import letters, obligations
from tests.conftest import CAMPAIGNS
from tests.conftest_helpers import copy_example, insert_after, line_of_unique, replace_once

LEADS = "cross_province_leads"
OLD_DUE, NEW_DUE = "due: {date: 2017-10-31", "due: {date: 2017-11-14"
INTERIM = """  - id: interim_check
    title: 阶段进展情况
    kind: interim_summary
    from: {name: 各省级工商、市场监管部门, registry: provinces, level: province, exclude: xpcc_amr}
    to: saic
    due: {date: 2017-11-10}
    source: 二、（三）
"""
PROGRESS = INTERIM.replace("interim_check", "progress_check").replace(
    "阶段进展情况", "进度核对").replace("2017-11-10", "2017-11-25")


def cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)


def run_day(db_url: str, day: date, outbox: Path) -> None:
    result = cli(db_url, "run", "--at", day.isoformat(), "--campaign", "sourcing_2017",
                 "--outbox", str(outbox))
    assert result.exit_code == 0, result.output


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def edited(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    """A copy of sourcing_2017 (with its registries) in its own folder, edited."""
    path = copy_example(tmp_path / name)
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        text = replace_once(text, old, new)
    path.write_text(text, encoding="utf-8")
    return path


def with_reports(tmp_path: Path, name: str, *blocks: str) -> Path:
    path = copy_example(tmp_path / name)
    text = path.read_text(encoding="utf-8")
    for block in blocks:
        text = insert_after(text, "reports:", block)
    path.write_text(text, encoding="utf-8")
    return path


def letter_rows(db_url: str) -> dict[str, tuple[object, ...]]:
    with connect(db_url).engine.connect() as conn:
        return {r.idempotency_key: tuple(r) for r in conn.execute(select(
            letters.c.idempotency_key, letters.c.id, letters.c.kind, letters.c.recipient_id,
            letters.c.planned_for, letters.c.body, letters.c.created_at))}


def key_counts(db_url: str) -> Counter[str]:
    with connect(db_url).engine.connect() as conn:
        return Counter(dict(conn.execute(select(letters.c.idempotency_key, func.count())
                                         .group_by(letters.c.idempotency_key)).all()))


def obligation_rows(db_url: str, report: str) -> dict[str, tuple[object, ...]]:
    with connect(db_url).engine.connect() as conn:
        return {r.body_id: (r.status, r.due_on) for r in conn.execute(select(
            obligations.c.body_id, obligations.c.status, obligations.c.due_on).where(
            obligations.c.report_id == report))}


def report_letters(db_url: str, report: str) -> list[tuple[str, int, date, str]]:
    with connect(db_url).engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(letters.c.kind, letters.c.step, letters.c.planned_for, letters.c.status)
            .join(obligations, letters.c.obligation_id == obligations.c.id)
            .where(obligations.c.report_id == report))]


# --- the check ------------------------------------------------------------------------
def test_extending_the_lead_deadline_mid_campaign_moves_replans_and_sends_nothing_twice(
        db_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    for day in (date(2017, 10, 20), date(2017, 10, 24), date(2017, 10, 27), date(2017, 10, 29)):
        run_day(db_url, day, outbox)
    before = letter_rows(db_url)
    reminders = [lt for lt in report_letters(db_url, LEADS) if lt[0] == "reminder"]
    assert Counter((step, status) for _, step, _, status in reminders) == {
        (7, "sent"): 31, (3, "sent"): 31}  # due 24 and 28 October, written 24 and 29

    extended = edited(tmp_path, "v2", (OLD_DUE, NEW_DUE))
    shown = cli(db_url, "diff", str(extended))
    assert shown.exit_code == 0, shown.output
    assert "跨省商标侵权案件线索：31 个单位的截止日期由 2017年10月31日 改为 2017年11月14日" \
        in shown.output
    assert "未报送的报送义务改期：31 项" in shown.output
    data = json.loads(cli(db_url, "diff", str(extended), "--format", "json").output)
    assert data["obligations"] == {"moved": 31, "added": 0, "withdrawn": 0}
    assert [(c["section"], c["subject"], c.get("field")) for c in data["changes"]] == [
        ("report", LEADS, "due"), ("obligations", LEADS, None)]  # and nothing else
    assert data["effect"]["moving"] == 31 and data["effect"]["withdrawn"] == 0
    assert letter_rows(db_url) == before  # diff writes nothing

    loaded = cli(db_url, "load", str(extended))
    assert loaded.exit_code == 0 and "第 2 版" in loaded.output
    assert "改期 31 项，新增 0 项，撤销 0 项" in loaded.output

    for day in days(date(2017, 10, 30), date(2017, 11, 30)):
        run_day(db_url, day, outbox)
        if day == date(2017, 11, 1):  # the old overdue day passes in silence
            assert set(obligation_rows(db_url, LEADS).values()) == {("open", date(2017, 11, 14))}
            assert not [lt for lt in report_letters(db_url, LEADS) if lt[0] == "overdue"]

    after = letter_rows(db_url)
    assert {k: after[k] for k in before} == before  # nothing recorded before was touched
    assert set(key_counts(db_url).values()) == {1}  # no key twice
    sent = Counter((kind, step, planned) for kind, step, planned, _ in
                   report_letters(db_url, LEADS))
    assert sent[("reminder", 7, date(2017, 10, 24))] == 31  # not repeated for the new date
    # the old 3-day one (due 28 October, written by the run of the 29th) stays, once
    assert sent[("reminder", 3, date(2017, 10, 29))] == 31
    assert not any(k[:2] == ("reminder", 3) and k[2] != date(2017, 10, 29) for k in sent)
    assert sent[("reminder", 1, date(2017, 11, 13))] == 31  # re-planned on the new date
    assert not any(kind == "overdue" and planned < date(2017, 11, 15)
                   for kind, _, planned in sent)
    assert sent[("overdue", 0, date(2017, 11, 15))] == 31
    assert sent[("escalation", 0, date(2017, 11, 24))] == 31
    files = [p for p in outbox.rglob("*.md")]
    assert len(files) == len({p.name for p in files})  # every letter delivered once


def test_a_3_day_reminder_not_yet_sent_falls_on_the_new_date(db_url: str, tmp_path: Path) -> None:
    """Amended before the 3-day reminder: it and the 1-day one land on 11 and 13 November."""
    outbox = tmp_path / "outbox"
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    run_day(db_url, date(2017, 10, 24), outbox)
    assert cli(db_url, "load", str(edited(tmp_path, "v2", (OLD_DUE, NEW_DUE)))).exit_code == 0
    for day in days(date(2017, 10, 25), date(2017, 11, 16)):
        run_day(db_url, day, outbox)
    planned = Counter((kind, step, day) for kind, step, day, _ in report_letters(db_url, LEADS))
    assert planned == {("reminder", 7, date(2017, 10, 24)): 31,
                       ("reminder", 3, date(2017, 11, 11)): 31,
                       ("reminder", 1, date(2017, 11, 13)): 31,
                       ("overdue", 0, date(2017, 11, 15)): 31}
    assert set(key_counts(db_url).values()) == {1}


# --- reports added and dropped ----------------------------------------------------------------
def test_a_report_added_and_one_dropped_and_fulfilled_ones_left_alone(
        db_url: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    first = with_reports(tmp_path, "v1", INTERIM)
    assert cli(db_url, "load", str(first)).exit_code == 0
    for body, report in (("jiangsu_amr", "interim_check"), ("jiangsu_amr", LEADS)):
        done = cli(db_url, "submit", "--campaign", "sourcing_2017", "--report", report,
                   "--body", body, "--at", "2017-10-30", "--actor", "江苏省局")
        assert done.exit_code == 0, done.output
    for day in days(date(2017, 11, 1), date(2017, 11, 12)):
        run_day(db_url, day, outbox)
    interim_before = sorted(report_letters(db_url, "interim_check"))
    assert ("overdue", 0, date(2017, 11, 11), "sent") in interim_before

    second = with_reports(tmp_path, "v2", PROGRESS)  # interim_check dropped, progress added
    data = json.loads(cli(db_url, "diff", str(second), "--format", "json").output)
    assert data["obligations"] == {"moved": 0, "added": 31, "withdrawn": 31}
    assert data["effect"]["withdrawn"] == 30 and data["effect"]["created"] == 31
    assert data["effect"]["closed_untouched"] == 1  # Jiangsu's fulfilled one
    assert cli(db_url, "load", str(second)).exit_code == 0
    assert obligation_rows(db_url, "progress_check") == {}  # created by the next tick
    for day in days(date(2017, 11, 13), date(2017, 11, 30)):
        run_day(db_url, day, outbox)

    interim = obligation_rows(db_url, "interim_check")
    assert interim.pop("jiangsu_amr")[0] == "fulfilled"
    assert set(interim.values()) == {("withdrawn", date(2017, 11, 10))}
    assert sorted(report_letters(db_url, "interim_check")) == interim_before  # kept, no more
    progress = obligation_rows(db_url, "progress_check")
    assert len(progress) == 31 and set(progress.values()) == {("open", date(2017, 11, 25))}
    assert Counter((k, s, d) for k, s, d, _ in report_letters(db_url, "progress_check")) == {
        ("reminder", 7, date(2017, 11, 18)): 31, ("reminder", 3, date(2017, 11, 22)): 31,
        ("reminder", 1, date(2017, 11, 24)): 31, ("overdue", 0, date(2017, 11, 26)): 31}
    assert obligation_rows(db_url, LEADS)["jiangsu_amr"] == ("fulfilled", date(2017, 10, 31))
    assert set(key_counts(db_url).values()) == {1}


def test_a_fulfilled_obligation_is_not_moved_or_chased_after_an_extension(
        db_url: str, tmp_path: Path) -> None:
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    assert cli(db_url, "submit", "--campaign", "sourcing_2017", "--report", LEADS, "--body",
               "zhejiang_amr", "--count", "6", "--at", "2017-10-25",
               "--actor", "浙江省局").exit_code == 0
    assert cli(db_url, "load", str(edited(tmp_path, "v2", (OLD_DUE, NEW_DUE)))).exit_code == 0
    for day in days(date(2017, 11, 10), date(2017, 11, 16)):
        run_day(db_url, day, tmp_path / "outbox")
    assert obligation_rows(db_url, LEADS)["zhejiang_amr"] == ("fulfilled", date(2017, 10, 31))
    with connect(db_url).engine.connect() as conn:
        chased = set(conn.scalars(select(letters.c.recipient_id).where(
            letters.c.kind.in_(["reminder", "overdue"]))))
    assert "zhejiang_amr" not in chased and len(chased) == 30


# --- campaign diff on its own -----------------------------------------------------------------
def test_diff_of_the_loaded_text_says_there_is_no_change(db_url: str) -> None:
    path = str(CAMPAIGNS / "sourcing_2017.yaml")
    assert cli(db_url, "load", path).exit_code == 0
    shown = cli(db_url, "diff", path)
    assert shown.exit_code == 0 and "与已载入的第 1 版相同，无变化" in shown.output
    data = json.loads(cli(db_url, "diff", path, "--format", "json").output)
    assert data["identical"] is True and data["changes"] == []


def test_diff_before_any_load_lists_what_version_1_creates(db_url: str) -> None:
    shown = cli(db_url, "diff", str(CAMPAIGNS / "sourcing_2017.yaml"))
    assert shown.exit_code == 0
    assert "载入后为第 1 版" in shown.output
    assert "跨省商标侵权案件线索：31 项，截止 2017年10月31日" in shown.output


def test_diff_of_a_broken_file_exits_1_with_the_located_error(db_url: str,
                                                             tmp_path: Path) -> None:
    broken = edited(tmp_path, "bad", ("to: saic.tmo\n    due", "to: saic.tmx\n    due"))
    line = line_of_unique(broken.read_text(encoding="utf-8"), "to: saic.tmx")
    shown = cli(db_url, "diff", str(broken))
    assert shown.exit_code == 1
    assert f"sourcing_2017.yaml:{line}:" in shown.output and "saic.tmx" in shown.output


def test_diff_compares_against_the_stored_text_when_the_file_was_edited_in_place(
        db_url: str, tmp_path: Path) -> None:
    path = edited(tmp_path, "live")
    assert cli(db_url, "load", str(path)).exit_code == 0
    path.write_text(replace_once(path.read_text(encoding="utf-8"), OLD_DUE, NEW_DUE),
                    encoding="utf-8")
    shown = cli(db_url, "diff", str(path), "--lang", "en")
    assert shown.exit_code == 0, shown.output
    assert "31 bodies' due day moves from 2017-10-31 to 2017-11-14" in shown.output


def test_the_pure_diff_lists_campaign_fields_first_and_ignores_positions(tmp_path: Path) -> None:
    old = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
    moved = with_reports(tmp_path, "same", "\n")  # a blank line shifts every position below
    assert diff(old, load_definition(moved)) == []
    new = load_definition(edited(tmp_path, "v2", (OLD_DUE, NEW_DUE),
                                 ("doc_number: 办字〔2017〕165号", "doc_number: 办字〔2017〕166号"),
                                 ("repeat_every: 5", "repeat_every: 4")))
    changes = diff(old, new)
    assert [c.section for c in changes] == ["campaign", "campaign", "report", "obligations"]
    assert changes[1].field == "reminders.repeat_every" and (changes[1].old, changes[1].new) \
        == ("5", "4")


# --- reverting an amendment ------------------------------------------------------------------
def test_reloading_the_text_of_an_older_version_makes_it_current_again(
        db_url: str, tmp_path: Path) -> None:
    original = edited(tmp_path, "v1")
    extended = edited(tmp_path, "v2", (OLD_DUE, NEW_DUE))
    for path in (original, extended, original):
        assert cli(db_url, "load", str(path)).exit_code == 0
    run_day(db_url, date(2017, 10, 24), tmp_path / "outbox")
    assert set(obligation_rows(db_url, LEADS).values()) == {("open", date(2017, 10, 31))}
