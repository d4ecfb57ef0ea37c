"""Spreadsheet intake: real CSV and XLSX files in, typed rows and every rejection reason out."""

from __future__ import annotations

import csv
import re
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from engine.intake import (
    Accepted,
    Intake,
    IntakeError,
    Rejected,
    default_mapping,
    iter_rows,
    natural_key,
    parse_row,
    read_file,
    record_table,
    write_csv,
    write_rejects,
    write_xlsx,
)
from engine.intake.headers import ALIASES, VALUE_LABELS, YUAN_HEADERS, normalise_header
from engine.intake.rows import MAX_KEY, MAX_NUMBER
from engine.spec.fields import RECORD_FIELDS
from engine.spec.model import FieldDef, Id
from engine.store.tables import cases, leads

EXTRA = (FieldDef(name=Id("goods_value"), label="货值金额（万元）", type="decimal"),
         FieldDef(name=Id("goods_count"), label="涉案商品数量", type="integer"))
LEAD_HEADERS = ["线索编号", "报送单位", "权利人", "商标名称", "注册号", "类别",
                "商标权属是否明晰", "联系人", "联系方式", "涉嫌侵权人", "侵权行为地",
                "行政区划代码", "重点类别", "收集日期", "线索简要情况", "货值金额（万元）",
                "涉案商品数量"]


def good_lead(i: int, excel: bool = False) -> dict[str, Any]:
    """A complete, valid lead; odd rows have no number and are known by who/what/whom."""
    return {
        "线索编号": f"XS-2017-{i:04d}" if i % 2 == 0 else "",
        "报送单位": "江苏省市场监督管理局", "权利人": f"某某股份有限公司{i % 7}",
        "商标名称": f"某某牌{i % 11}", "注册号": str(1_000_000 + i), "类别": "25",
        "商标权属是否明晰": "是" if i % 3 else "否", "联系人": "王五", "联系方式": "13800138000",
        "涉嫌侵权人": f"某商贸有限公司{i}", "侵权行为地": "江苏省苏州市某路1号",
        "行政区划代码": 320500 if excel else "320500",
        "重点类别": ["驰名商标", "涉外商标", ""][i % 3],
        "收集日期": datetime(2017, 10, 1 + i % 30) if excel else f"2017-10-{1 + i % 30:02d}",
        "线索简要情况": "在某市场销售假冒商品", "货值金额（万元）": "1,234.5", "涉案商品数量": "３",
    }


BAD_LEAD = [  # (what is wrong, the column to blame, the cells that make it wrong)
    ("impossible date", "收集日期", {"收集日期": "2017-02-30"}),
    ("month 13", "收集日期", {"收集日期": "2017/13/01"}),
    ("words for a date", "收集日期", {"收集日期": "十月底"}),
    ("five-digit division", "行政区划代码", {"行政区划代码": "32050"}),
    ("letter O in division", "行政区划代码", {"行政区划代码": "32O500"}),
    ("no such province", "行政区划代码", {"行政区划代码": "990000"}),
    ("maybe is not a boolean", "商标权属是否明晰", {"商标权属是否明晰": "可能"}),
    ("unknown focus category", "重点类别", {"重点类别": "普通商标"}),
    ("negative amount", "货值金额（万元）", {"货值金额（万元）": "-3.5"}),
    ("元 in a 万元 column", "货值金额（万元）", {"货值金额（万元）": "35000元"}),
    ("words for an amount", "货值金额（万元）", {"货值金额（万元）": "若干"}),
    ("fractional count", "涉案商品数量", {"涉案商品数量": "2.5"}),
    ("negative count", "涉案商品数量", {"涉案商品数量": "-2"}),
    ("name too long", "权利人", {"权利人": "某" * 501}),
    ("missing identity", "线索编号", {"线索编号": "", "商标名称": ""}),
]


def lead_rows(n: int, bad_every: int = 20, excel: bool = False,
              ) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """``n`` leads, one in ``bad_every`` (0: none) broken in turn by each BAD_LEAD.

    Returns the rows and, for the broken ones, row number -> the column to blame.
    """
    rows, expected = [], {}
    for i in range(n):
        row = good_lead(i, excel)
        if bad_every and i % bad_every == 7:
            _, column, cells = BAD_LEAD[(i // bad_every) % len(BAD_LEAD)]
            row.update(cells)
            expected[i + 2] = column  # header is row 1
        rows.append(row)
    return rows, expected


def write_csv_file(path: Path, headers: Sequence[str], rows: list[dict[str, Any]],
                   encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        writer.writerows([row.get(h, "") for h in headers] for row in rows)
    return path


def write_xlsx_file(path: Path, headers: Sequence[str], rows: list[dict[str, Any]]) -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(list(headers))
    for row in rows:
        ws.append([row.get(h) if row.get(h) != "" else None for h in headers])
    book.save(path)
    return path


def check_split(result: Any, expected: dict[int, str], total: int) -> None:
    assert len(result.rejected) == len(expected)
    assert len(result.accepted) == total - len(expected)
    for rej in result.rejected:
        assert [p.column for p in rej.problems] == [expected[rej.row]], rej
        assert rej.reason and any("\u4e00" <= ch <= "\u9fff" for ch in rej.reason)


# --- whole files ----------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_lead_file_1000_rows_50_bad(tmp_path: Path, encoding: str) -> None:
    rows, expected = lead_rows(1000)
    path = write_csv_file(tmp_path / "leads.csv", LEAD_HEADERS, rows, encoding)
    result = read_file(path, "lead", extra_fields=EXTRA)
    assert result.encoding == encoding
    assert len(expected) == 50
    check_split(result, expected, 1000)
    first = result.accepted[0].values
    assert first["received_on"] == date(2017, 10, 1)
    assert first["goods_value"] == Decimal("1234.5") and first["goods_count"] == 3
    assert first["right_holder_contact"] == "王五；13800138000"
    assert result.warnings == []


@pytest.mark.parametrize("first", ["权利人", "商标注册号", "维权联系人", "涉嫌侵权人"])
def test_excel_gbk_csv_whose_first_character_is_also_utf8_bytes_is_read_as_gbk(
        tmp_path: Path, first: str) -> None:
    """Excel on Chinese Windows saves "CSV (逗号分隔)" in GBK. Some GBK characters are valid
    two-byte UTF-8 as well (权 is C8 A8); a file starting with one is GBK, not "mixed"."""
    others = [h for h in ["线索编号", "权利人", "商标", "涉嫌侵权人"] if h != first]
    path = tmp_path / "gbk.csv"
    path.write_bytes(f"{first},{','.join(others)}\r\n甲,乙,丙,丁\r\n".encode("gbk"))
    result = read_file(path, "lead")
    assert result.encoding == "gb18030"
    assert len(result.accepted) == 1 and result.rejected == []


def test_xlsx_lead_file_with_excel_dates(tmp_path: Path) -> None:
    rows, expected = lead_rows(1000, excel=True)
    path = write_xlsx_file(tmp_path / "leads.xlsx", LEAD_HEADERS, rows)
    result = read_file(path, "lead", extra_fields=EXTRA)
    assert result.encoding is None
    check_split(result, expected, 1000)
    by_row = {a.row: a.values for a in result.accepted}
    assert by_row[2]["received_on"] == date(2017, 10, 1)  # an Excel date cell
    assert by_row[2]["infringement_division"] == "320500"  # a number cell, kept as text


def test_a_row_reports_every_problem(tmp_path: Path) -> None:
    row = good_lead(0)
    row.update({"收集日期": "2017-02-30", "行政区划代码": "1", "重点类别": "x", "线索编号": "",
                "商标名称": ""})
    result = read_file(write_csv_file(tmp_path / "a.csv", LEAD_HEADERS, [row]), "lead",
                       extra_fields=EXTRA)
    columns = [p.column for p in result.rejected[0].problems]
    assert sorted(columns) == sorted(["收集日期", "行政区划代码", "重点类别", "线索编号"])


def test_incomplete_lead_is_accepted() -> None:
    got = parse_row("lead", 5, {"权利人": "甲公司", "商标": "乙", "涉嫌侵权人": "丙"})
    assert isinstance(got, Accepted) and set(got.values) == {"right_holder", "mark",
                                                             "suspected_infringer"}


@pytest.mark.parametrize("raw", [{"权利人": "甲"}, {"案件编号": " "}, {"线索编号": ""}])
def test_a_case_needs_its_number(raw: dict[str, str]) -> None:
    got = parse_row("case", 3, {"权利类型": "商标", **raw})
    assert isinstance(got, Rejected) and got.column == "案件编号" and got.row == 3


def test_a_lead_mapping_is_not_used_for_cases() -> None:
    with pytest.raises(IntakeError) as err:
        parse_row("case", 2, {"案件编号": "1"}, default_mapping("lead"))
    assert err.value.code == "bad-kind"


def test_duplicate_rows_in_one_file_point_at_the_first(tmp_path: Path) -> None:
    rows = [good_lead(1), good_lead(2), good_lead(1)]
    rows[2]["涉嫌侵权人"] = " 某商贸有限公司１ "  # the same infringer, typed differently
    result = read_file(write_csv_file(tmp_path / "d.csv", LEAD_HEADERS, rows), "lead",
                       extra_fields=EXTRA)
    assert [r.row for r in result.rejected] == [4]
    assert "第 2 行" in result.rejected[0].reason


def test_one_file_may_hold_the_same_number_from_two_senders(tmp_path: Path) -> None:
    """A consolidated national file: two provinces both number a lead "001". The store keys a
    numbered record by its sender too, so only a repeat from the same sender is a duplicate."""
    path = tmp_path / "n.csv"
    path.write_text("线索编号,报送单位,权利人\n001,北京市知识产权局,甲\n001,上海市知识产权局,乙\n"
                    "001,北京市知识产权局,丙\n002,,丁\n002,,戊\n", encoding="utf-8")
    result = read_file(path, "lead")
    assert [a.row for a in result.accepted] == [2, 3, 5]
    assert [(r.row, r.reason) for r in result.rejected] == [
        (4, "与第 2 行是同一条记录（001）"), (6, "与第 5 行是同一条记录（002）")]


@pytest.mark.parametrize(("text", "header", "skipped"), [
    ("附件1：线索汇总表,,\n线索编号,权利人,商标\nA-1,甲,乙\n", 2, "第 1 行视为标题"),
    (",,\n线索编号,权利人,商标\nA-1,甲,乙\n", 2, "第 1 行视为标题"),
    ("附件1\n填报单位：某局\n\n线索编号,权利人,商标\nA-1,甲,乙\n", 4, "第 1—3 行视为标题"),
    ("线索编号,权利人,商标\nA-1,甲,乙\n", 1, None),
])
def test_the_header_row_is_found_below_a_title_when_not_given(
        tmp_path: Path, text: str, header: int, skipped: str | None) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    with Intake(path, "lead", header_row=None) as intake:
        rows = list(intake)
        assert intake.table.header_row == header
        assert [r.row for r in rows] == [header + 1] and isinstance(rows[0], Accepted)
        assert any(skipped in w for w in intake.warnings) if skipped else intake.warnings == []


@pytest.mark.parametrize("text", ["附件1\n说明\n", "附件1\n" * 9 + "线索编号\nA\n"])
def test_a_header_not_found_near_the_top_is_the_first_row_s_error(tmp_path: Path,
                                                                  text: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(IntakeError) as err:
        Intake(path, "lead", header_row=None)
    assert err.value.code == "no-identity-columns" and "第 1 行" in err.value.message


# --- natural keys ---------------------------------------------------------------------------
def test_natural_keys_are_stable_and_distinct(tmp_path: Path) -> None:
    rows, _ = lead_rows(200, bad_every=0)
    path = write_csv_file(tmp_path / "k.csv", LEAD_HEADERS, rows)
    once = [a.natural_key for a in read_file(path, "lead", extra_fields=EXTRA).accepted]
    again = [a.natural_key for a in read_file(path, "lead", extra_fields=EXTRA).accepted]
    assert once == again and len(set(once)) == 200
    assert once[0] == "XS-2017-0000" and once[1].startswith("h:")


@pytest.mark.parametrize(("a", "b", "same"), [
    ({"right_holder": "某某（苏州）有限公司", "mark": "ABC", "suspected_infringer": "张三"},
     {"right_holder": " 某某(苏州)有限公司", "mark": "abc", "suspected_infringer": "张 三"}, True),
    ({"right_holder": "甲", "mark": "乙", "suspected_infringer": "丙"},
     {"right_holder": "甲", "mark": "乙", "suspected_infringer": "丁"}, False),
    ({"external_id": "XS-1", "right_holder": "甲"}, {"external_id": "ＸＳ－1 "}, True),
])
def test_natural_key_normalises(a: dict[str, str], b: dict[str, str], same: bool) -> None:
    assert (natural_key("lead", a) == natural_key("lead", b)) is same


def test_natural_key_of_a_case_without_number_is_an_error() -> None:
    with pytest.raises(IntakeError):
        natural_key("case", {"right_type": "trademark"})


# --- values ---------------------------------------------------------------------------------
def cell(kind: str, header: str, value: object) -> Accepted | Rejected:
    ident = {"案件编号": "AJ-1"} if kind == "case" else {"线索编号": "XS-1"}
    return parse_row(kind, 2, {**ident, header: value}, extra_fields=EXTRA)


@pytest.mark.parametrize(("header", "raw", "want"), [
    ("涉案商品数量", "3", 3), ("涉案商品数量", "3.0", 3), ("涉案商品数量", "３", 3),
    ("涉案商品数量", 3.0, 3), ("涉案商品数量", "1,234", 1234), ("涉案商品数量", "3件", 3),
    *[("货值金额（万元）", raw, Decimal("1234.5")) for raw in ("1,234.5", "￥1,234.5", 1234.5)],
    ("货值金额（万元）", 0.1, Decimal("0.1")), ("货值金额（万元）", "2万元", Decimal("2")),
    *[("商标权属是否明晰", raw, True) for raw in ("是", "有", "Y", "true", 1, "√", True)],
    *[("商标权属是否明晰", raw, False) for raw in ("否", "无", "N", "false", 0, "×", False)],
    *[("收集日期", raw, date(2017, 10, 31)) for raw in (
        "2017-10-31", "2017/10/31", "2017.10.31", "2017年10月31日", "２０１７－１０－３１",
        "20171031", 20171031, datetime(2017, 10, 31), "2017-10-31 00:00:00", " 2017-10-31 ")],
    ("收集日期", "2016-2-29", date(2016, 2, 29)),
    ("行政区划代码", "320500", "320500"), ("行政区划代码", 110101, "110101"),
    ("注册号", 12345678.0, "12345678"), ("重点类别", "well_known_mark", "well_known_mark"),
])
def test_lead_values_accepted(header: str, raw: object, want: object) -> None:
    got = cell("lead", header, raw)
    assert isinstance(got, Accepted), got
    assert want in got.values.values() and type(next(v for v in got.values.values()
                                                     if v == want)) is type(want)


@pytest.mark.parametrize(("header", "raw"), [
    *[("涉案商品数量", raw) for raw in ("3.5", "-1", "三", True, "99999999999", "1e3")],
    *[("货值金额（万元）", raw) for raw in ("1,23", float("nan"), "-0.1", "1.2.3", "约5")],
    ("商标权属是否明晰", "2"), ("商标权属是否明晰", "不清楚"),
    ("收集日期", "2017-02-29"), ("收集日期", "2017-00-10"), ("收集日期", "17-10-31"),
    ("收集日期", "1017-10-31"), ("收集日期", 43039), ("行政区划代码", "3205001"),
    ("行政区划代码", "000000"), ("重点类别", "商标"), ("线索简要情况", "字" * 5001),
])
def test_lead_values_rejected(header: str, raw: object) -> None:
    got = cell("lead", header, raw)
    assert isinstance(got, Rejected) and got.column == header and got.reason


@pytest.mark.parametrize(("field", "code", "label"), [
    (name, code, label) for kind in ("lead", "case") for name, fl in RECORD_FIELDS[kind].items()
    if fl.type == "enum" for code in fl.choices for label in (code, *VALUE_LABELS[code])])
def test_every_enum_value_has_chinese_labels(field: str, code: str, label: str) -> None:
    kind = "case" if field in RECORD_FIELDS["case"] else "lead"
    got = cell(kind, RECORD_FIELDS[kind][field].label, label)
    assert isinstance(got, Accepted) and got.values[field] == code


@pytest.mark.parametrize(("header", "raw", "want"), [
    ("涉案金额（元）", "12,345", Decimal("1.2345")), ("涉案金额(元)", 50000, Decimal("5")),
    ("罚没金额（元）", "300元", Decimal("0.03")), ("涉案金额（万元）", "1.5", Decimal("1.5")),
    ("涉案金额", "1.5万元", Decimal("1.5")),
])
def test_amounts_in_yuan_are_converted_to_wan(header: str, raw: object, want: Decimal) -> None:
    got = cell("case", header, raw)
    assert isinstance(got, Accepted)
    assert want in got.values.values()


def test_yuan_written_in_a_yuan_column_labelled_wan_is_refused() -> None:
    assert isinstance(cell("case", "涉案金额（元）", "3万元"), Rejected)
    assert isinstance(cell("case", "罚没金额（万元）", "3000元"), Rejected)


# --- headers and overrides ------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["lead", "case"])
def test_no_header_feeds_two_fields(kind: str) -> None:
    owner: dict[str, str] = {}
    for name, fl in RECORD_FIELDS[kind].items():
        for h in (fl.label, name, *ALIASES[kind].get(name, ()), *YUAN_HEADERS[kind].get(name, ())):
            assert owner.setdefault(normalise_header(h), name) == name, h


@pytest.mark.parametrize(("header", "field"), [
    ("权利人名称", "right_holder"), ("  商标\n名称 ", "mark"), ("注册号", "registration_number"),
    ("类别", "nice_class"), ("侵权地", "infringement_place"), ("侵权行为地", "infringement_place"),
    ("行政区划代码", "infringement_division"), ("线索编号*", "external_id"),
    ("收集单位", "collecting_body"),
    ("报送单位（盖章）", "body"), ("right_holder", "right_holder"), ("涉案商品数量", "goods_count"),
])
def test_lead_header_aliases(header: str, field: str) -> None:
    column = default_mapping("lead", EXTRA).lookup(header)
    assert column is not None and column.field.name == field


def test_every_alias_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "intake-columns.md").read_text(
        encoding="utf-8")
    tokens = {normalise_header(t.strip("*` ")) for t in re.split(r"[|、；：\n]", doc)}
    for kind in ("lead", "case"):
        for table in (ALIASES[kind], YUAN_HEADERS[kind]):
            missing = [h for hs in table.values() for h in hs if normalise_header(h) not in tokens]
            assert not missing, (kind, missing)
    assert all(normalise_header(w) in tokens for ws in VALUE_LABELS.values() for w in ws)


def test_override_mapping(tmp_path: Path) -> None:
    override = tmp_path / "map.yaml"
    override.write_text("商标权人: right_holder\n品牌: mark\n被投诉方: suspected_infringer\n"
                        "联系人: null\n", encoding="utf-8")
    rows = [{"商标权人": "甲", "品牌": "乙", "被投诉方": "丙", "联系人": "本单位经办人"}]
    path = write_csv_file(tmp_path / "o.csv", ["商标权人", "品牌", "被投诉方", "联系人"], rows)
    result = read_file(path, "lead", override=override)
    assert result.accepted[0].values == {"right_holder": "甲", "mark": "乙",
                                         "suspected_infringer": "丙"}
    assert result.unknown_columns == [] and result.warnings == []
    with pytest.raises(IntakeError) as err:
        read_file(path, "case", override=override)  # a lead's fields are not a case's
    assert err.value.code == "override-unknown-field"


def test_override_can_take_an_amount_in_yuan() -> None:
    mapping = default_mapping("case", override={"金额（元）": {"field": "amount_involved",
                                                              "unit": "元"}})
    got = parse_row("case", 2, {"案号": "AJ-1", "金额（元）": "25000"}, mapping)
    assert isinstance(got, Accepted) and got.values["amount_involved"] == Decimal("2.5")


@pytest.mark.parametrize(("text", "code", "named"), [
    ("甲: no_such_field\n乙: nor_this\n丙: mark\n", "override-unknown-field",
     ["no_such_field", "nor_this"]),
    ("- right_holder\n", "bad-override", []),
    ("甲: !!python/object:os.system {}\n", "bad-override", []),
    ("甲: [right_holder\n", "bad-override", []),
    ("甲: {field: mark, unit: 元}\n", "bad-override", []),
    ("金额（元）: amount_involved\n", "override-unit", ["amount_involved"]),
])
def test_bad_override_is_an_error(tmp_path: Path, text: str, code: str, named: list[str]) -> None:
    override = tmp_path / "bad.yaml"
    override.write_text(text, encoding="utf-8")
    kind = "case" if "amount" in text else "lead"
    with pytest.raises(IntakeError) as err:
        default_mapping(kind, override=override)
    assert err.value.code == code and err.value.message_en
    assert all(name in err.value.message for name in named)


def test_unknown_columns_are_one_warning_each(tmp_path: Path) -> None:
    rows = [{**good_lead(i), "备注": "x"} for i in range(50)]
    result = read_file(write_csv_file(tmp_path / "u.csv", [*LEAD_HEADERS, "备注"], rows), "lead")
    assert result.unknown_columns == ["货值金额（万元）", "涉案商品数量", "备注"]  # no EXTRA given
    assert len(result.warnings) == 3 and len(result.accepted) == 50


# --- reading files --------------------------------------------------------------------------
def test_row_numbers_are_those_staff_see(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("汇总表\n线索编号,权利人\nA,甲\n\n,\n\"B\nB\",乙\nC,丙\n", encoding="utf-8")
    assert [n for n, _ in iter_rows(path, header_row=2)] == [3, 6, 7]
    book = openpyxl.Workbook()
    ws = book.active
    ws["A1"], ws["B1"], ws["A3"], ws["B7"] = "线索编号", "权利人", "A", "乙"
    book.save(tmp_path / "gaps.xlsx")
    assert [n for n, _ in iter_rows(tmp_path / "gaps.xlsx")] == [3, 7]


@pytest.mark.parametrize(("name", "content", "code"), [
    ("a.xls", b"x", "bad-extension"), ("a.txt", b"x", "bad-extension"),
    ("a.csv", b"", "empty-file"), ("a.csv", "线索编号\nA\n".encode("utf-16"), "utf16"),
    ("a.csv", "线索编号\n".encode("gb18030") + b"\xff\n", "bad-encoding"),
    ("a.csv", "线索编号\n".encode() + "甲".encode("gb18030") + b"\n", "mixed-encoding"),
    ("a.csv", "线索编号,权利人\n".encode() + "甲".encode("gb18030") + b"\n", "mixed-encoding"),
    ("a.csv", "线索编号;权利人\nA;甲\n".encode(), "bad-delimiter"),
    ("a.csv", "线索编号,线索编号\nA,B\n".encode(), "duplicate-header"),
    ("a.csv", "权利人,权利人名称,线索编号\n甲,甲,1\n".encode(), "columns-clash"),
    ("a.csv", "权利人,商标\n甲,乙\n".encode(), "no-identity-columns"),
    ("a.xlsx", b"PK\x03\x04 not really", "bad-xlsx"),
])
def test_bad_files_are_refused_clearly(tmp_path: Path, name: str, content: bytes,
                                       code: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IntakeError) as err:
        read_file(path, "lead")
    assert err.value.code == code and err.value.message and err.value.message_en


def test_intake_checks_the_header_before_any_row(tmp_path: Path) -> None:
    rows = [{**good_lead(i), "备注": "x"} for i in range(3)]
    path = write_csv_file(tmp_path / "h.csv", [*LEAD_HEADERS, "备注"], rows, "gb18030")
    with Intake(path, "lead", extra_fields=EXTRA) as intake:
        assert intake.encoding == "gb18030" and intake.unknown_columns == ["备注"]
        assert intake.headers[0] == "线索编号"
        results = list(intake)
    assert (intake.accepted, intake.rejected) == (3, 0) and len(results) == 3


def test_size_limit(tmp_path: Path) -> None:
    path = write_csv_file(tmp_path / "big.csv", LEAD_HEADERS, [good_lead(i) for i in range(100)])
    with pytest.raises(IntakeError) as err:
        read_file(path, "lead", max_bytes=1000)
    assert err.value.code == "too-large" and "1000" in err.value.message


def test_named_sheet_and_progress(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "说明"
    ws = book.create_sheet("线索")
    ws.append(LEAD_HEADERS)
    for i in range(25):
        ws.append([good_lead(i).get(h) for h in LEAD_HEADERS])
    book.save(tmp_path / "s.xlsx")
    calls: list[tuple[int, float | None]] = []
    result = read_file(tmp_path / "s.xlsx", "lead", sheet="线索", extra_fields=EXTRA,
                       on_progress=lambda n, f: calls.append((n, f)), progress_every=10)
    assert len(result.accepted) == 25 and calls[-1] == (25, 1.0) and calls[0][0] == 10
    with pytest.raises(IntakeError, match="线索"):
        read_file(tmp_path / "s.xlsx", "lead", sheet="没有")


def test_reading_a_200k_row_csv_streams(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("线索编号,权利人,商标,涉嫌侵权人\n")
        fh.writelines(f"XS-{i},某某股份有限公司,某某牌,某商贸有限公司{i}\n" for i in range(200_000))
    assert path.stat().st_size > 10_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_rows(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < 4_000_000, peak  # the file is over 10 MB


# --- exports --------------------------------------------------------------------------------
NASTY = ['=HYPERLINK("http://x","y")', "+1", "-1", "@SUM(A1)", "\tcmd", "\r=1", "＝1+1", "#N/A"]


def test_csv_export_neutralises_formulas(tmp_path: Path) -> None:
    write_csv(tmp_path / "x.csv", ["值", "=标题"], [[v, -1] for v in NASTY])
    with (tmp_path / "x.csv").open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["值", "'=标题"]
    for (text, number), original in zip(table[1:], NASTY, strict=True):
        assert number == "-1"  # a number, not text: harmless
        assert text == (original if original == "#N/A" else "'" + original)


def test_xlsx_export_never_writes_a_formula(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "x.xlsx", ["值", "数"], [[v, -1] for v in NASTY])
    ws = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    for (text, number), original in zip(ws.iter_rows(min_row=2), NASTY, strict=True):
        assert text.data_type == "s" and not str(text.value).startswith(("=", "+", "-", "@"))
        assert str(text.value).endswith(original.lstrip("\r\t")) or text.value == "'" + original
        assert number.data_type == "n" and number.value == -1


@pytest.mark.parametrize("writer", [write_csv, write_xlsx])
def test_export_round_trips_through_intake(tmp_path: Path, writer: Callable[..., int]) -> None:
    rows, _ = lead_rows(40, bad_every=0)
    source = read_file(write_csv_file(tmp_path / "in.csv", LEAD_HEADERS, rows), "lead",
                       extra_fields=EXTRA)
    mapping = default_mapping("lead", EXTRA)
    headers, table = record_table(mapping, source.accepted)
    out = tmp_path / ("out.csv" if writer is write_csv else "out.xlsx")
    assert writer(out, headers, table) == 40
    again = read_file(out, "lead", extra_fields=EXTRA)
    assert [a.values for a in again.accepted] == [a.values for a in source.accepted]
    assert [a.natural_key for a in again.accepted] == [a.natural_key for a in source.accepted]


def test_reject_file_lists_every_problem(tmp_path: Path) -> None:
    rows, expected = lead_rows(100)
    result = read_file(write_csv_file(tmp_path / "r.csv", LEAD_HEADERS, rows), "lead",
                       extra_fields=EXTRA)
    assert write_rejects(tmp_path / "rejects.csv", result.rejected) == len(expected)
    with (tmp_path / "rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["行号", "列", "原因"]
    assert {(int(r), c) for r, c, _ in table[1:]} == set(expected.items())


@pytest.mark.parametrize(("header", "limit"), [("商标", 500), ("线索简要情况", 5000)])
def test_a_cell_longer_than_its_field_allows_is_refused_and_one_at_the_limit_is_kept(
        header: str, limit: int) -> None:
    ident = {"线索编号": "XS-1"}
    kept = parse_row("lead", 2, {**ident, header: "字" * limit})
    assert isinstance(kept, Accepted) and len(next(
        v for k, v in kept.values.items() if k != "external_id")) == limit
    refused = parse_row("lead", 3, {**ident, header: " " + "字" * (limit + 1) + " "})
    assert isinstance(refused, Rejected)
    assert [(p.column, p.reason) for p in refused.problems] == [
        (header, f"内容过长：{limit + 1} 字，上限 {limit} 字")]


@pytest.mark.parametrize(("kind", "header"), [("lead", "线索编号"), ("case", "案件编号")])
def test_a_record_number_longer_than_its_column_is_refused_not_left_to_the_database(
        kind: str, header: str) -> None:
    """PostgreSQL would refuse a 101-character number at the insert, and the whole import
    with it; SQLite would keep it. Intake refuses the row, and keeps one at the limit."""
    kept = parse_row(kind, 2, {header: "A" * MAX_NUMBER})
    assert isinstance(kept, Accepted) and kept.natural_key == "A" * MAX_NUMBER
    refused = parse_row(kind, 3, {header: "A" * (MAX_NUMBER + 1)})
    assert isinstance(refused, Rejected)
    assert [(p.column, p.reason) for p in refused.problems] == [
        (header, f"内容过长：{MAX_NUMBER + 1} 字，上限 {MAX_NUMBER} 字")]
    widened = parse_row(kind, 4, {header: "\ufdfa" * 12})  # 12 characters, 216 after NFKC
    assert isinstance(widened, Rejected)
    assert [(p.column, p.reason) for p in widened.problems] == [
        (header, f"编号规范化后过长：216 字，上限 {MAX_KEY} 字")]


def test_the_number_limits_are_the_columns_lengths() -> None:
    for table in (leads, cases):
        assert (table.c.external_id.type.length, table.c.natural_key.type.length) == (
            MAX_NUMBER, MAX_KEY)
