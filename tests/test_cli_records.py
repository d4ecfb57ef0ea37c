"""Records from the command line, on SQLite and PostgreSQL: import, re-import, move, export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from engine.cli import main
from tests.conftest import CAMPAIGNS

HEADER = ["线索编号", "报送单位", "权利人", "商标", "商标注册号", "维权联系人及联系方式",
          "涉嫌侵权人", "涉嫌侵权行为地", "涉嫌侵权人标识使用情况", "商标权属是否明晰", "收集日期"]


def run(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)


def lead_row(i: int) -> list[str]:
    place = "" if i % 10 == 7 else "浙江省杭州市"  # some leads lack the place of infringement
    return [f"JS-{i:04d}", "jiangsu_amr", f"权利人{i}", f"商标{i}", str(1000000 + i),
            "王某 025-00000000", f"涉嫌侵权人{i}", place, "在同类商品上使用近似标识", "是",
            f"2017-10-{1 + i % 28:02d}"]


BAD = [  # (column index, bad value, column header the rejection must name)
    (10, "2017-02-31", "收集日期"), (9, "可能", "商标权属是否明晰"), (10, "十月", "收集日期"),
]


def write_leads(path: Path, n: int = 1000, bad_every: int = 20) -> set[int]:
    """n leads; every ``bad_every``-th is broken in one of several ways. Returns bad row numbers."""
    bad_rows = set()
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(n):
            row = lead_row(i)
            if i % bad_every == 0:
                col, value, _ = BAD[(i // bad_every) % len(BAD)]
                row[col] = value
                bad_rows.add(i + 2)  # header is row 1
            writer.writerow(row)
    return bad_rows


@pytest.fixture
def loaded(db_url: str) -> str:
    result = run(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml"))
    assert result.exit_code == 0, result.output
    return db_url


def test_importing_1000_leads_with_50_bad_rows_keeps_950_and_names_each_bad_row(
        loaded: str, tmp_path: Path) -> None:
    bad_rows = write_leads(tmp_path / "leads.csv")
    assert len(bad_rows) == 50
    rejects = tmp_path / "rejects.csv"
    result = run(loaded, "lead", "import", str(tmp_path / "leads.csv"), "--campaign",
                 "sourcing_2017", "--actor", "江苏省局 张三", "--rejects", str(rejects))
    assert result.exit_code == 0, result.output
    assert "新增 950 条" in result.output and "拒收 50 行" in result.output
    named = {int(line.split("第 ")[1].split(" 行")[0]) for line in result.output.splitlines()
             if line.startswith("第 ")}
    assert named == bad_rows
    with rejects.open(encoding="utf-8-sig") as fh:
        listed = list(csv.reader(fh))[1:]
    assert {int(r[0]) for r in listed} == bad_rows and all(r[1] and r[2] for r in listed)

    again = run(loaded, "lead", "import", str(tmp_path / "leads.csv"), "--campaign",
                "sourcing_2017", "--actor", "张三")
    assert "新增 0 条" in again.output and "已存在 950 条" in again.output
    listing = run(loaded, "lead", "list", "--campaign", "sourcing_2017")
    assert len(listing.output.splitlines()) == 950
    rows = [json.loads(line) for line in run(loaded, "lead", "list", "--format", "json",
                                             "--limit", "5").output.splitlines()]
    placed = [r for r in rows if r["infringement_place"]]
    assert placed and all(r["infringement_division"] == "330000" for r in placed)
    assert all(r["body_id"] == "jiangsu_amr" for r in rows)


def test_an_xlsx_import_reads_chinese_headers_and_excel_dates(loaded: str, tmp_path: Path) -> None:
    from datetime import datetime

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for i in range(30):
        row: list[object] = lead_row(i)
        row[10] = datetime(2017, 10, 1 + i)
        sheet.append(row)
    book.save(tmp_path / "leads.xlsx")
    result = run(loaded, "lead", "import", str(tmp_path / "leads.xlsx"), "--campaign",
                 "sourcing_2017", "--actor", "张三")
    assert "新增 30 条" in result.output, result.output


def test_a_sender_not_in_the_registry_is_refused_and_an_export_imports_again_as_is(
        loaded: str, tmp_path: Path) -> None:
    """A 报送单位 the campaign does not know would leave the lead with no body to remind, and
    its key would change once the name is known: the row is refused like any value that
    means nothing. What is stored exports and re-imports as the same records."""
    path = tmp_path / "leads.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["填报单位" if h == "报送单位" else h for h in HEADER])
        writer.writerow(lead_row(1))
        unknown = lead_row(2)
        unknown[1] = "北京市某某局"
        writer.writerow(unknown)
        nobody = lead_row(3)
        nobody[1] = ""
        writer.writerow(nobody)
    first = run(loaded, "lead", "import", str(path), "--campaign", "sourcing_2017", "--actor",
                "张三")
    assert "新增 2 条" in first.output and "拒收 1 行" in first.output
    assert "第 3 行，列“填报单位”：“北京市某某局”不是本专项单位名录中的单位" in first.output

    out = tmp_path / "out.xlsx"
    assert run(loaded, "lead", "export", str(out)).exit_code == 0
    again = run(loaded, "lead", "import", str(out), "--campaign", "sourcing_2017", "--actor",
                "张三")
    assert "新增 0 条，已存在 2 条，拒收 0 行" in again.output, again.output


def test_a_number_too_long_with_its_sender_s_id_is_refused_not_failing_the_import() -> None:
    """The stored key is the sender's id, "/", and the number: each may be within its own
    limit and the key still past the column's, which would fail the whole import."""
    from dataclasses import replace

    from engine.commands.records import _new_records
    from engine.intake.rows import MAX_KEY, MAX_NUMBER, Accepted, Rejected
    from engine.spec.loader import load_definition

    index = load_definition(CAMPAIGNS / "sourcing_2017.yaml").bodies
    some = next(iter(index.bodies.values()))
    long_id = "b" * (MAX_KEY - MAX_NUMBER)
    index = replace(index, bodies={**index.bodies, long_id: replace(some, id=long_id)})
    rows = [Accepted("lead", 2, {"external_id": "1" * MAX_NUMBER, "body": long_id},
                     "1" * MAX_NUMBER),
            Accepted("lead", 3, {"external_id": "1" * (MAX_NUMBER - 1), "body": long_id},
                     "1" * (MAX_NUMBER - 1))]
    rejected: list[Rejected] = []
    kept = list(_new_records(iter(rows), index, rejected, "报送单位", "线索编号"))
    assert [len(r.natural_key) for r in kept] == [MAX_KEY]
    assert [(r.row, r.column) for r in rejected] == [(2, "线索编号")]
    assert f"超过上限 {MAX_KEY} 字" in rejected[0].reason


def test_a_government_form_with_a_title_row_above_its_header_imports(loaded: str,
                                                                     tmp_path: Path) -> None:
    """Forms sent down with a notice carry a merged title row ("附件1：……汇总表") and often a
    sender-and-date row above the header: the header is found below them, and staff are told."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["附件1：商标侵权线索汇总表"])
    sheet.merge_cells("A1:K1")
    sheet.append(["填报单位：江苏省市场监督管理局", None, None, None, None, None, None, None,
                  "填报日期：2017年10月20日"])
    sheet.append(HEADER)
    for i in range(3):
        sheet.append(lead_row(i))
    book.save(tmp_path / "form.xlsx")
    found = run(loaded, "lead", "import", str(tmp_path / "form.xlsx"), "--campaign",
                "sourcing_2017", "--actor", "张三")
    assert found.exit_code == 0, found.output
    assert "新增 3 条" in found.output
    assert "表头在第 3 行；第 1—2 行视为标题，未导入" in found.output

    given = run(loaded, "lead", "import", str(tmp_path / "form.xlsx"), "--campaign",
                "sourcing_2017", "--actor", "张三", "--header-row", "3")
    assert given.exit_code == 0 and "已存在 3 条" in given.output
    assert "视为标题" not in given.output
    wrong = run(loaded, "lead", "import", str(tmp_path / "form.xlsx"), "--campaign",
                "sourcing_2017", "--actor", "张三", "--header-row", "2")
    assert wrong.exit_code == 1 and "表头是否不在第 2 行" in wrong.output
    assert "--header-row" not in wrong.output  # it was given


def test_a_file_with_no_recognisable_header_near_the_top_names_the_first_row(
        loaded: str, tmp_path: Path) -> None:
    path = tmp_path / "none.csv"
    path.write_text("附件1\n说明\n权利人,商标\n甲,乙\n", encoding="utf-8")
    result = run(loaded, "lead", "import", str(path), "--campaign", "sourcing_2017",
                 "--actor", "张三")
    assert result.exit_code == 1
    assert "表头是否不在第 1 行？（可用 --header-row 指定表头所在的行）" in result.output


def test_a_lead_without_its_place_of_infringement_is_refused_naming_the_field(
        loaded: str, tmp_path: Path) -> None:
    write_leads(tmp_path / "leads.csv", n=10, bad_every=1000)
    run(loaded, "lead", "import", str(tmp_path / "leads.csv"), "--campaign", "sourcing_2017",
        "--actor", "张三")
    rows = [json.loads(line) for line in run(loaded, "lead", "list", "--format",
                                              "json").output.splitlines()]
    missing = next(r["id"] for r in rows if not r["infringement_place"])
    complete = next(r["id"] for r in rows if r["infringement_place"])
    refused = run(loaded, "lead", "move", str(missing), "consolidate", "--actor", "李四")
    assert refused.exit_code == 1
    assert "涉嫌侵权行为地" in refused.output and "infringement_place" in refused.output
    assert "withdraw" in refused.output  # the moves that are possible are listed
    moved = run(loaded, "lead", "move", str(complete), "consolidate", "--actor", "李四",
                "--reason", "材料齐全")
    assert moved.exit_code == 0 and "collected → consolidated" in moved.output
    trail = json.loads(run(loaded, "lead", "show", str(complete)).output)["history"]
    assert [(e["trigger"], e["actor"], e["reason"]) for e in trail] == [
        ("create", "张三", "导入/登记"), ("consolidate", "李四", "材料齐全")]
    assert run(loaded, "lead", "move", str(missing), "fly", "--actor", "李四").exit_code == 1


def test_export_neutralises_cells_that_excel_would_run_as_formulas(loaded: str,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        row = lead_row(1)
        row[2] = '=HYPERLINK("http://example.invalid","点击")'
        row[6] = "@SUM(A1)"
        writer.writerow(row)
    run(loaded, "lead", "import", str(path), "--campaign", "sourcing_2017", "--actor", "张三")
    out = tmp_path / "out.xlsx"
    assert run(loaded, "lead", "export", str(out)).exit_code == 0
    sheet = openpyxl.load_workbook(out).active
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value is not None]
    assert cells and all(c.data_type != "f" for c in cells)
    assert not any(str(c.value).startswith(("=", "@")) for c in cells)
    text_out = tmp_path / "out.csv"
    run(loaded, "lead", "export", str(text_out))
    content = text_out.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in content and "'@SUM" in content


def test_records_need_a_loaded_campaign(db_url: str, tmp_path: Path) -> None:
    write_leads(tmp_path / "leads.csv", n=3)
    result = run(db_url, "lead", "import", str(tmp_path / "leads.csv"), "--campaign",
                 "sourcing_2017", "--actor", "张三")
    assert result.exit_code == 1 and "campaign load" in result.output


def test_db_status_and_upgrade_report_the_schema_version(db_url: str) -> None:
    from engine.store import migrate

    head = migrate.head()
    assert head >= "0002"  # the schema has moved on since the first release; this follows it
    said = run(db_url, "db", "upgrade").output + run(db_url, "db", "status").output
    assert f"最新 {head}" in said


def test_cases_import_move_and_export_like_leads(loaded: str, tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["案件编号", "报送单位", "权利类型", "办案部门类别", "涉案金额（万元）",
                         "罚没金额（万元）", "立案日期"])
        admin = ["zhejiang_amr", "商标", "行政执法部门"]
        writer.writerow(["ZJ-2017-001", *admin, "12.5", "", "2017-11-03"])
        writer.writerow(["ZJ-2017-002", *admin, "3", "1.2", "2017-11-05"])
        writer.writerow(["", "zhejiang_amr", "火星", "行政执法部门", "-1", "", "2017-11-31"])
    result = run(loaded, "case", "import", str(path), "--campaign", "sourcing_2017", "--actor",
                 "浙江省局")
    assert "新增 2 条" in result.output and "拒收 1 行" in result.output, result.output
    rows = {r["external_id"]: r for r in map(json.loads, run(
        loaded, "case", "list", "--format", "json").output.splitlines())}
    assert rows["ZJ-2017-001"]["right_type"] == "trademark"
    assert rows["ZJ-2017-001"]["handling_kind"] == "administrative"
    first, second = rows["ZJ-2017-001"]["id"], rows["ZJ-2017-002"]["id"]
    for case in (first, second):
        moved = run(loaded, "case", "move", str(case), "investigate", "--actor", "王五")
        assert moved.exit_code == 0
    refused = run(loaded, "case", "move", str(first), "decide", "--actor", "王五")
    assert refused.exit_code == 1 and "penalty_amount" in refused.output
    assert run(loaded, "case", "move", str(second), "decide", "--actor", "王五").exit_code == 0
    out = tmp_path / "cases.xlsx"
    assert "2 条" in run(loaded, "case", "export", str(out)).output
