"""Files as staff really send them: one bad row never costs the others, and nothing is lost.

Each case came from a review of the import with messy files (2026-12-04); each failed before
its fix, on SQLite or PostgreSQL (``db_url`` runs both).
"""

from __future__ import annotations

import csv
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from engine.cli import main
from engine.intake import IntakeError, read_file, xlsx_fast
from tests.conftest import CAMPAIGNS

LEAD = ["线索编号", "报送单位", "权利人", "商标", "涉嫌侵权人", "收集日期"]


def run(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)


def write(path: Path, header: list[str], *rows: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def stored(db_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


@pytest.fixture
def loaded(db_url: str) -> str:
    for name in ("sourcing_2017", "example_jiangsu_sourcing_2017"):
        result = run(db_url, "load", str(CAMPAIGNS / f"{name}.yaml"))
        assert result.exit_code == 0, result.output
    return db_url


def import_leads(db_url: str, path: Path, *extra: str,
                 campaign: str = "sourcing_2017") -> Result:
    return run(db_url, "lead", "import", str(path), "--campaign", campaign, "--actor", "张三",
               *extra)


def test_the_same_lead_sent_once_by_name_and_once_by_id_is_refused_not_lost(
        loaded: str, tmp_path: Path) -> None:
    """Row 3 repeats row 2's lead A001 of the same sender, named by its id there: the store
    keys it by the sender's id, so it is the same record, and must be refused by name rather
    than counted as "already stored" while its differing suspect is dropped."""
    path = write(tmp_path / "leads.csv", LEAD,
                 ["A001", "北京市市场监督管理局", "甲", "甲牌", "乙", "2017-10-01"],
                 ["A001", "beijing_amr", "甲", "甲牌", "丙", "2017-10-02"])
    result = import_leads(loaded, path)
    assert result.exit_code == 0, result.output
    assert "第 3 行，列“线索编号”：与第 2 行是同一条记录（A001）" in result.output
    assert "新增 1 条，已存在 0 条，拒收 1 行" in result.output


def test_a_sender_typed_with_ascii_brackets_is_the_registry_body(
        loaded: str, tmp_path: Path) -> None:
    """The registry writes 苏州高新区（虎丘区）with full-width brackets; staff type either."""
    path = write(tmp_path / "leads.csv", LEAD[:5],
                 ["S001", "苏州高新区（虎丘区）市场监督管理局", "甲", "甲牌", "乙"],
                 ["S002", "苏州高新区(虎丘区)市场监督管理局", "甲", "甲牌", "丙"],
                 ["S003", "高新区(虎丘区)市场监管局", "甲", "甲牌", "丁"])
    result = import_leads(loaded, path, campaign="example_jiangsu_sourcing_2017")
    assert result.exit_code == 0, result.output
    assert "新增 3 条，已存在 0 条，拒收 0 行" in result.output
    assert {b for (b,) in stored(loaded, "SELECT DISTINCT body_id FROM leads")} == \
        {"suzhou_huqiu_amr"}


def test_a_rejects_file_in_a_missing_folder_is_refused_before_anything_is_stored(
        loaded: str, tmp_path: Path) -> None:
    path = write(tmp_path / "leads.csv", LEAD,
                 ["G001", "beijing_amr", "甲", "甲牌", "乙", "2017-10-01"],
                 ["G002", "beijing_amr", "甲", "甲牌", "丙", "not a date"])
    result = import_leads(loaded, path, "--rejects", str(tmp_path / "missing" / "r.csv"))
    assert result.exit_code == 1
    assert "文件夹" in result.output and "不存在" in result.output
    assert stored(loaded, "SELECT count(*) FROM leads") == [(0,)]


@pytest.mark.parametrize(("cell", "reason"), [
    ("x" * 200_000, "内容过长：200000 字，上限 5000 字"),  # over Python csv's 128 KiB field
    ("在某市场\x00发现", "含有空字符（NUL）"),  # PostgreSQL refuses NUL in text
], ids=["huge-cell", "nul"])
def test_one_unstorable_cell_refuses_its_row_and_the_others_are_imported(
        loaded: str, tmp_path: Path, cell: str, reason: str) -> None:
    path = write(tmp_path / "leads.csv", [*LEAD, "线索简要情况"],
                 ["K001", "beijing_amr", "甲", "甲牌", "乙", "2017-10-01", cell],
                 ["K002", "beijing_amr", "甲", "甲牌", "丙", "2017-10-01", "正常"])
    result = import_leads(loaded, path)
    assert result.exit_code == 0, result.output
    assert f"第 2 行，列“线索简要情况”：{reason}" in result.output
    assert "新增 1 条，已存在 0 条，拒收 1 行" in result.output


@pytest.mark.parametrize(("header", "value", "taken"), [
    ("涉案金额（万元）", "999999999999999", False),  # over Numeric(18, 4): failed PostgreSQL
    ("涉案金额（万元）", "99999999999999", True),
    ("罚没金额(元)", "999999999999999", True),  # 元: stored as 万元, a ten-thousandth
], ids=["wan-too-large", "wan-largest", "yuan-scaled"])
def test_an_amount_too_large_to_store_is_refused_by_its_row(
        loaded: str, tmp_path: Path, header: str, value: str, taken: bool) -> None:
    path = write(tmp_path / "cases.csv", ["案件编号", "报送单位", header],
                 ["P001", "beijing_amr", value], ["P002", "beijing_amr", "5"])
    result = run(loaded, "case", "import", str(path), "--campaign", "sourcing_2017",
                 "--actor", "张三")
    assert result.exit_code == 0, result.output
    assert f"新增 {1 + taken} 条" in result.output
    assert ("过大" in result.output) is not taken


def test_a_data_row_repeating_a_value_is_not_blamed_as_a_duplicate_header(
        tmp_path: Path) -> None:
    """The header is searched for in the first rows; a data row tried as one may repeat a
    value. What staff must hear is the missing identifying column."""
    path = write(tmp_path / "cases.csv", ["序号", "报送单位", "办案单位", "批捕数", "起诉数"],
                 ["1", "beijing_amr", "某局", "0", "0"])
    with pytest.raises(IntakeError, match="需要案件编号") as caught:
        read_file(path, "case", header_row=None)
    assert "出现了两次" not in str(caught.value)


@pytest.mark.parametrize("reader", ["calamine", "openpyxl"])
def test_a_hidden_first_sheet_of_drop_down_lists_is_not_the_one_imported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    if reader == "openpyxl":  # the reader of sheets too large to be read whole
        monkeypatch.setattr(xlsx_fast, "fits", lambda _path: False)
    wb = openpyxl.Workbook()
    options = wb.active
    options.title, options.sheet_state = "选项", "hidden"
    options.append(["是", "否"])
    ws = wb.create_sheet("线索")
    ws.append(LEAD[:5])
    ws.append(["H001", "beijing_amr", "甲", "甲牌", "乙"])
    wb.save(tmp_path / "leads.xlsx")
    result = read_file(tmp_path / "leads.xlsx", "lead")
    assert [r.values["external_id"] for r in result.accepted] == ["H001"]


def test_lead_add_refuses_a_misspelt_field_rather_than_dropping_it(loaded: str) -> None:
    result = run(loaded, "lead", "add", "--campaign", "sourcing_2017", "--actor", "张三",
                 "-f", "线索编号=Z1", "-f", "报送单位=beijing_amr", "-f", "权力人=甲公司")
    assert result.exit_code == 1
    assert "没有名为“权力人”的字段" in result.output
    assert stored(loaded, "SELECT count(*) FROM leads") == [(0,)]


def test_lead_add_with_two_names_for_one_field_says_so_without_a_traceback(
        loaded: str) -> None:
    result = run(loaded, "lead", "add", "--campaign", "sourcing_2017", "--actor", "张三",
                 "-f", "线索编号=X", "-f", "external_id=Y")
    assert result.exit_code == 1
    assert "都对应字段“线索编号”" in result.output


def _with_builtin_format(src: Path, dst: Path, format_id: int) -> Path:
    """``src`` with its custom 年月日 number format replaced by built-in ``format_id``, as
    Chinese Excel saves a date formatted 2017年10月1日 (openpyxl can only write custom ones)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/styles.xml":
                styles = data.decode()
                custom = re.search(r'<numFmt numFmtId="(\d+)" formatCode="[^"]*年[^"]*"/>',
                                   styles)
                assert custom is not None
                styles = re.sub(r'<numFmts count="\d+">\s*</numFmts>', "",
                                styles.replace(custom[0], ""))
                data = styles.replace(f'numFmtId="{custom[1]}"',
                                      f'numFmtId="{format_id}"').encode()
            zout.writestr(item, data)
    return dst


@pytest.mark.parametrize("reader", ["calamine", "openpyxl"])
def test_a_date_in_chinese_excel_s_built_in_format_is_a_date_whichever_reader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    """Built-in format 31 (yyyy年m月d日) is a date in Chinese Excel; openpyxl, which reads the
    sheets too large for calamine, knew no format for it and read 43009."""
    if reader == "openpyxl":
        monkeypatch.setattr(xlsx_fast, "fits", lambda _path: False)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(LEAD)
    ws.append(["M001", "beijing_amr", "甲", "甲牌", "乙", datetime(2017, 10, 1)])
    ws["F2"].number_format = 'yyyy"年"m"月"d"日"'
    wb.save(tmp_path / "custom.xlsx")
    path = _with_builtin_format(tmp_path / "custom.xlsx", tmp_path / "leads.xlsx", 31)
    result = read_file(path, "lead")
    assert [r.values["received_on"] for r in result.accepted] == [date(2017, 10, 1)]
