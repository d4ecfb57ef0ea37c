"""A file's rows are parsed by generated code (engine/intake/compiled.py); it must answer as
the plain loop (``RowParser.parse_steps``) does, for any cells a CSV or a workbook can hold."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.intake import RowParser, default_mapping
from engine.intake.rows import Accepted, Rejected

LEAD_HEADERS = ["线索编号", "报送单位", "权利人", "商标", "商标注册号", "商标权属是否明晰",
                "联系人", "联系方式", "涉嫌侵权人", "侵权行为地行政区划代码", "收集日期",
                "线索简要情况", "重点类别", "未知的列"]
CASE_HEADERS = ["案件编号", "立案日期", "涉案金额（万元）", "罚没款（万元）", "案件来源",
                "承办单位"]

TEXTS = st.one_of(
    st.sampled_from(["", " ", "  A-1 ", "是", "否", "可能", "2017-10-01", "2017/10/1",
                     "2017-02-30", "2017年10月1日", "110000", "11000", "320500", "12.5", "abc",
                     "某某（苏州）有限公司", "ＡＢ－１", "㍿" * 60, "x" * 501, "长" * 5001,
                     "x" * 500, "x" * 100, "x" * 101, "长" * 5000, " " + "y" * 500 + " ",
                     "食品", "药品", "农资", "food", "侵权", "\u3000甲\u3000"]),
    st.text(max_size=12))
CELLS = st.one_of(TEXTS, st.none(), st.integers(-10, 10**7), st.floats(allow_nan=False),
                  st.booleans(), st.dates(date(1990, 1, 1), date(2030, 12, 31)),
                  st.datetimes(datetime(1990, 1, 1), datetime(2030, 12, 31)),
                  st.decimals(allow_nan=False, allow_infinity=False, places=2))


class Text(str):
    """A ``str`` subclass, as some readers hand back: it must take the general path."""


def _same(got: Accepted | Rejected, want: Accepted | Rejected) -> None:
    assert type(got) is type(want)
    if isinstance(want, Accepted):
        assert isinstance(got, Accepted)
        assert (got.natural_key, got.row, got.kind) == (want.natural_key, want.row, want.kind)
        assert list(got.values.items()) == list(want.values.items())  # order too
    else:
        assert got == want


@pytest.mark.parametrize(("kind", "headers"), [("lead", LEAD_HEADERS), ("case", CASE_HEADERS)])
@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_generated_row_parser_answers_as_the_loop_does(kind: str, headers: list[str],
                                                        data: st.DataObject) -> None:
    # one parser per plan, so its memos fill as a file's would; the loop reads the same memos
    parser = RowParser(default_mapping(kind))
    steps = parser.steps(headers, by_position=True)
    parse = parser.compiled(headers, by_position=True)
    rows = data.draw(st.lists(st.lists(CELLS, min_size=len(headers), max_size=len(headers)),
                              min_size=1, max_size=8))
    for number, cells in enumerate(rows, start=2):
        if data.draw(st.booleans()):
            cells = [Text(c) if isinstance(c, str) else c for c in cells]
        twice = parse(number, list(cells))  # may fill a memo the loop then reads
        _same(parse(number, list(cells)), parser.parse_steps(number, list(cells), steps))
        _same(twice, parser.parse_steps(number, list(cells), steps))


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(extra=st.text(min_size=1, max_size=10), cells=st.lists(TEXTS, min_size=4, max_size=4))
def test_generated_row_parser_takes_any_header_text_when_rows_are_mappings(
        extra: str, cells: list[Any]) -> None:
    """Rows given as ``{header: cell}`` put the file's own headers into the generated source
    (as ``repr`` literals): quotes, backslashes or line breaks in them change nothing."""
    headers = ["线索编号", "权利人", f"商标{extra}'\"\\\n", "收集日期"]
    parser = RowParser(default_mapping("lead"))
    raw = dict(zip(headers, cells, strict=True))
    parse = parser.compiled(raw)
    _same(parse(2, raw), parser.parse_steps(2, raw, parser.steps(raw)))


def test_generated_row_parser_joins_contact_columns_and_reports_every_problem() -> None:
    parser = RowParser(default_mapping("lead"))
    parse = parser.compiled(LEAD_HEADERS, by_position=True)
    ok = parse(2, ["A-1", "", "甲", "乙", "", "是", "张三", "138", "丙", "320500", "2017-10-01",
                   "", "", ""])
    assert isinstance(ok, Accepted)
    assert ok.values["right_holder_contact"] == "张三；138"
    assert ok.values["ownership_clear"] is True and ok.values["received_on"] == date(2017, 10, 1)
    bad = parse(3, ["A-2", "", "x" * 501, "", "", "可能", "", "", "", "11000", "2017-02-30",
                    "", "", ""])
    assert isinstance(bad, Rejected)
    assert [p.column for p in bad.problems] == ["权利人", "商标权属是否明晰",
                                               "侵权行为地行政区划代码", "收集日期"]
    long = parse(4, ["A-3", "", "甲", "", "", "", "张" * 300, "1" * 300, "", "", "", "", "", ""])
    assert isinstance(long, Rejected)
    assert [(p.column, p.reason) for p in long.problems] == [
        ("联系方式", "与前面同一字段的列合并后内容过长：601 字，上限 500 字")]


def test_a_case_amount_keeps_its_decimal_through_the_generated_parser() -> None:
    parser = RowParser(default_mapping("case"))
    parse = parser.compiled(CASE_HEADERS, by_position=True)
    row = parse(2, ["C-1", "2017-11-02", "12.50", Decimal("3.25"), "", ""])
    assert isinstance(row, Accepted)
    assert row.values["opened_on"] == date(2017, 11, 2)
    assert row.values["amount_involved"] == Decimal("12.50")
    assert row.values["penalty_amount"] == Decimal("3.25")
    assert all(isinstance(row.values[n], Decimal) for n in ("amount_involved", "penalty_amount"))
