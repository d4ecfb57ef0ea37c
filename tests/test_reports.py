"""``campaign report``: the statistics return in the right cells, compliance and progress.

Runs on SQLite and PostgreSQL (``db_url``). Cells are found by their row label within the
section and their column header, as a person reads the form, not by fixed coordinates only.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result
from openpyxl.worksheet.worksheet import Worksheet

from engine.cli import main
from engine.reports import formats, returns, xlsx
from engine.store import definitions, records
from engine.store.db import connect
from tests.conftest import CAMPAIGNS
from tests.conftest_helpers import insert_after

FIE = "foreign_investment_2017"
COUNT, AMOUNT, PERSONS = "案件数量（件）", "涉案金额（万元）", "人数（人）"

CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("A1", {"handling_kind": "administrative", "right_type": "trademark",
            "amount_involved": Decimal("12.5"), "opened_on": date(2017, 10, 1)}, None),
    ("A2", {"handling_kind": "administrative", "right_type": "trademark",
            "amount_involved": Decimal("7.25"), "opened_on": date(2017, 10, 31)}, "sipo"),
    ("A3", {"handling_kind": "administrative", "right_type": "patent",
            "amount_involved": Decimal("3"), "opened_on": date(2017, 10, 15)}, None),
    ("A4", {"handling_kind": "administrative", "right_type": "trademark",  # next month
            "amount_involved": Decimal("100"), "opened_on": date(2017, 11, 1)}, "sipo"),
    ("A5", {"handling_kind": "administrative", "right_type": "trademark",  # month before
            "amount_involved": Decimal("50"), "opened_on": date(2017, 9, 30)}, None),
    ("P1", {"handling_kind": "police", "right_type": "trademark", "suspects_caught": 3,
            "amount_involved": Decimal("40"), "opened_on": date(2017, 10, 2)}, None),
    ("P2", {"handling_kind": "police", "right_type": "copyright", "suspects_caught": 2,
            "amount_involved": Decimal("10.5"), "opened_on": date(2017, 10, 20)}, None),
    ("J1", {"handling_kind": "procuratorate", "arrest_cases": 1, "arrest_persons": 2,
            "prosecution_cases": 1, "prosecution_persons": 3,
            "opened_on": date(2017, 10, 9)}, None),
]


def run(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", db_url])


@pytest.fixture
def fie(db_url: str) -> str:
    """foreign_investment_2017 loaded, with the known cases above."""
    result = run(db_url, "load", str(CAMPAIGNS / f"{FIE}.yaml"))
    assert result.exit_code == 0, result.output
    store = connect(db_url)
    def_id, _ = definitions.latest(store, FIE)
    new = [records.NewRecord(key, values, key, body) for key, values, body in CASES]
    done = records.insert_records(store, "case", FIE, def_id, new, actor="测试",
                                  initial_state="opened")
    assert done.inserted == len(CASES)
    store.engine.dispose()
    return db_url


def cell(ws: Worksheet, section: str, label: str, header: str) -> Any:
    """The value under ``header`` on the row labelled ``label`` within ``section``."""
    header_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "部门")
    col = next(c for c in range(1, ws.max_column + 1) if ws.cell(header_row, c).value == header)
    start = next(r for r in range(header_row + 1, ws.max_row + 1)
                 if ws.cell(r, 1).value == section)
    for r in range(start, ws.max_row + 1):
        if r > start and ws.cell(r, 1).value not in (None, section):
            break
        if ws.cell(r, 2).value == label:
            return ws.cell(r, col).value
    raise AssertionError(f"no row {label} in {section}")


def test_the_october_return_has_the_right_totals_in_the_right_cells(fie: str,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "2017-10.xlsx"
    result = run(fie, "report", "stats", "--campaign", FIE, "--period", "2017-10",
                 "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "2017年10月" in result.output
    ws = openpyxl.load_workbook(out).active
    assert ws["A1"].value == "外商投资企业知识产权保护行动查处案件数据统计表"
    assert "A1:E1" in {str(r) for r in ws.merged_cells.ranges}
    assert "报送单位（盖章）" in ws["A2"].value and "报送时间" in ws["A2"].value
    admin = "行政执法部门"
    assert cell(ws, admin, "侵犯商标权案件", COUNT) == 2  # Sept and Nov cases left out
    assert Decimal(str(cell(ws, admin, "侵犯商标权案件", AMOUNT))) == Decimal("19.75")
    assert cell(ws, admin, "侵犯专利权案件", COUNT) == 1
    assert cell(ws, admin, "侵犯商业秘密案件", COUNT) == 0
    assert cell(ws, admin, "合计", COUNT) == 3
    assert Decimal(str(cell(ws, admin, "合计", AMOUNT))) == Decimal("22.75")
    assert cell(ws, "公安机关", "立案数", COUNT) == 2
    assert cell(ws, "公安机关", "抓获犯罪嫌疑人数", PERSONS) == 5
    assert Decimal(str(cell(ws, "公安机关", "涉案金额", AMOUNT))) == Decimal("50.5")
    assert cell(ws, "检察机关", "起诉犯罪嫌疑人数", PERSONS) == 3
    assert cell(ws, "检察机关", "合计", PERSONS) == 5
    # the section name is one cell merged down over its rows and its 合计
    admin_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == admin)
    assert f"A{admin_row}:A{admin_row + 5}" in {str(r) for r in ws.merged_cells.ranges}
    amount_col = next(c for c in range(1, 6) if ws.cell(3, c).value == AMOUNT)
    assert ws.cell(admin_row, amount_col).number_format == "#,##0.00"
    assert ws.cell(admin_row, 1).font.name == "宋体"
    labels = [ws.cell(r, 1).value for r in range(1, ws.max_row + 1)]
    assert "查处典型案例情况简述：" in labels


def test_a_row_with_two_unlabelled_figures_of_one_unit_gets_a_numbered_column(
        db_url: str, tmp_path: Path) -> None:
    """Two 人 figures on one row (caught, and of them arrested): the second opens 人数2（人）."""
    shutil.copytree(CAMPAIGNS / "bodies", tmp_path / "bodies")
    path = tmp_path / f"{FIE}.yaml"
    path.write_text(insert_after(
        (CAMPAIGNS / f"{FIE}.yaml").read_text(encoding="utf-8"),
        "- {id: persons, unit: 人, aggregate: sum, field: suspects_caught}",
        "              - {id: arrested, unit: 人, aggregate: sum, field: arrest_persons}\n"),
        encoding="utf-8")
    assert run(db_url, "load", str(path)).exit_code == 0
    store = connect(db_url)
    def_id, _ = definitions.latest(store, FIE)
    records.insert_records(store, "case", FIE, def_id, [records.NewRecord(
        "P9", {"handling_kind": "police", "suspects_caught": 5, "arrest_persons": 2,
               "opened_on": date(2017, 10, 2)}, "P9", None)], actor="测试",
        initial_state="opened")
    result = run(db_url, "report", "stats", "--campaign", FIE, "--format", "json")
    assert result.exit_code == 0, result.output
    caught = next(row for section in json.loads(result.output)["sections"]
                  for row in section["rows"] if row["label"] == "抓获犯罪嫌疑人数")
    assert (caught["values"][PERSONS], caught["values"]["人数2（人）"]) == (5, 2)


def test_amounts_are_rounded_half_up_and_the_total_adds_up_in_every_format(
        fie: str, tmp_path: Path) -> None:
    """1,250元 is 0.125万元: 四舍五入 gives 0.13 on each row, and 合计 0.26, in csv and xlsx."""
    store = connect(fie)
    def_id, _ = definitions.latest(store, FIE)
    records.insert_records(store, "case", FIE, def_id, [records.NewRecord(
        key, {"handling_kind": "administrative", "right_type": right,
              "amount_involved": Decimal("0.125"), "opened_on": date(2017, 12, 5)}, key, None)
        for key, right in (("D1", "patent"), ("D2", "copyright"))], actor="测试",
        initial_state="opened")
    shown = run(fie, "report", "stats", "--campaign", FIE, "--period", "2017-12", "--format",
                "csv").output.splitlines()
    amounts = {line.split(",")[1]: line.split(",")[3] for line in shown
               if line.startswith("行政执法部门,")}
    assert (amounts["侵犯专利权案件"], amounts["侵犯著作权案件"], amounts["合计"]) == \
        ("0.13", "0.13", "0.26")
    out = tmp_path / "dec.xlsx"
    assert run(fie, "report", "stats", "--campaign", FIE, "--period", "2017-12", "--format",
               "xlsx", "--output", str(out)).exit_code == 0
    ws = openpyxl.load_workbook(out).active
    assert [cell(ws, "行政执法部门", label, AMOUNT) for label in
            ("侵犯专利权案件", "侵犯著作权案件", "合计")] == [0.13, 0.13, 0.26]


def test_the_whole_campaign_and_one_body_are_separate_scopes(fie: str) -> None:
    whole = json.loads(run(fie, "report", "stats", "--campaign", FIE, "--format",
                           "json").output)
    admin = whole["sections"][0]
    assert admin["totals"][COUNT] == 5
    assert Decimal(admin["totals"][AMOUNT]) == Decimal("172.75")
    sipo = json.loads(run(fie, "report", "stats", "--campaign", FIE, "--body", "sipo",
                          "--format", "json").output)
    assert sipo["sections"][0]["totals"][COUNT] == 2 and sipo["body"] == "sipo"


def test_csv_and_markdown_carry_the_same_figures(fie: str) -> None:
    csv_out = run(fie, "report", "stats", "--campaign", FIE, "--period", "2017-10",
                  "--format", "csv").output
    assert "行政执法部门,侵犯商标权案件,2,19.75," in csv_out
    assert "行政执法部门,合计,3,22.75," in csv_out
    md = run(fie, "report", "stats", "--campaign", FIE, "--period", "2017-10",
             "--format", "md").output
    assert "| 侵犯商标权案件 | 2 | 19.75 |" in md and "**22.75**" in md


def test_text_that_looks_like_a_formula_is_stored_as_text(tmp_path: Path) -> None:
    from engine.spec.loader import load_definition

    definition = load_definition(CAMPAIGNS / f"{FIE}.yaml")
    form = returns.return_form(definition)
    filled = returns.fill(form, [0] * len(returns.measures_of(form)), campaign=FIE,
                          period=returns.parse_period("2017-10"), body_name="=HYPERLINK(1)",
                          definition=definition)
    section = filled.sections[0]
    bad = dataclasses.replace(section.rows[0], label="=1+1")
    filled = dataclasses.replace(filled, sections=(
        dataclasses.replace(section, rows=(bad, *section.rows[1:])), *filled.sections[1:]))
    xlsx.write_xlsx(filled, tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    hit = next(c for row in ws.iter_rows() for c in row if c.value and "1+1" in str(c.value))
    assert hit.data_type == "s" and hit.value == "'=1+1"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert "'=1+1" in formats.to_csv(filled)


@pytest.mark.parametrize(("args", "message"), [
    (["--campaign", "no_such_campaign"], "尚未载入"),
    (["--campaign", FIE, "--period", "2017-13"], "格式不对"),
    (["--campaign", FIE, "--period", "十月"], "格式不对"),
    (["--campaign", "sourcing_2017"], "没有定义统计表"),
    (["--campaign", FIE, "--format", "xlsx"], "--output"),
    (["--campaign", FIE, "--body", "nobody"], "没有“nobody”"),
])
def test_bad_requests_exit_1_with_a_chinese_message(fie: str, args: list[str],
                                                    message: str) -> None:
    run(fie, "load", str(CAMPAIGNS / "sourcing_2017.yaml"))
    fmt = [] if "--format" in args else ["--format", "json"]
    result = run(fie, "report", "stats", *args, *fmt)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_compliance_shows_on_time_late_missing_and_pending(fie: str) -> None:
    for body, at in (("sipo", "2017-10-10"), ("mps", "2017-10-20")):
        done = run(fie, "submit", "--campaign", FIE, "--report", "monthly_statistics",
                   "--body", body, "--period", "2017-09", "--at", at, "--actor", "测试")
        assert done.exit_code == 0, done.output
    result = run(fie, "report", "compliance", "--campaign", FIE, "--at", "2017-10-20",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    items = {(i["body"], i["period"]): i for i in json.loads(result.output)
             if i["report"] == "monthly_statistics"}
    assert items[("sipo", "2017-09")]["status"] == "on_time"
    assert items[("mps", "2017-09")]["status"] == "late"
    assert items[("sipo", "2017-09")]["submitted_on"] == "2017-10-10"
    assert items[("spp", "2017-09")]["status"] == "missing"
    assert items[("spp", "2017-10")]["status"] == "pending"
    earlier = json.loads(run(fie, "report", "compliance", "--campaign", FIE, "--at",
                             "2017-10-12", "--format", "json").output)
    mps = next(i for i in earlier if (i["body"], i["period"]) == ("mps", "2017-09"))
    assert mps["status"] == "pending"  # its late submission has not happened yet
    table = run(fie, "report", "compliance", "--campaign", FIE, "--at", "2017-10-20")
    assert "按时报送 1 项" in table.output and "逾期报送 1 项" in table.output


def test_lead_quota_counts_registered_leads(db_url: str) -> None:
    assert run(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    result = run(db_url, "report", "compliance", "--campaign", "sourcing_2017", "--at",
                 "2017-10-24", "--format", "json")
    quota = [i for i in json.loads(result.output) if i["quota"] is not None]
    assert quota and all(i["shortfall"] == i["quota"] - i["count"] for i in quota)


def test_progress_counts_cases_by_state_and_body(fie: str) -> None:
    moved = run(fie, "case", "move", "1", "investigate", "--actor", "测试")
    data = json.loads(run(fie, "report", "progress", "--campaign", FIE, "--format",
                          "json").output)
    cases = [x for x in data if x["kind"] == "case"]
    assert sum(x["count"] for x in cases) == len(CASES)
    by = {(x["body"], x["state"]): x["count"] for x in cases}
    assert by[("sipo", "opened")] == 2
    assert moved.exit_code == 0, moved.output
    assert by[(None, "investigating")] == 1
    table = run(fie, "report", "progress", "--campaign", FIE).output
    assert "已受理立案" in table and "合计" in table
