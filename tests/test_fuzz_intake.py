"""Hostile spreadsheets: the importer fails with a clear error, never a traceback or a hang.

Issue 7, item 3. Input classes, one test each (the test name says which):

- arbitrary bytes saved as ``.csv``;
- CSV text with random headers (known Chinese ones and junk) and cells that are any Unicode,
  spreadsheet formulas (``=HYPERLINK``, ``+cmd|``, ``@SUM``), huge cells, quotes and line breaks,
  saved as UTF-8, UTF-8 with BOM, GB18030 or UTF-16;
- ``.xlsx`` workbooks built with openpyxl: random cells of every type (text, formulas, numbers,
  booleans, dates and times, empty), random sheet names and several sheets;
- truncated, bit-flipped or garbage ``.xlsx`` files;
- all of these once more through ``campaign lead import`` against a real SQLite store: exit 0
  or 1 and no traceback.

The library property is "returns, or raises IntakeError with a Chinese message"; anything else
(a KeyError from openpyxl, a UnicodeError, an endless loop) is a bug. Each example runs under a
time limit (SIGALRM), so a hang fails instead of stalling CI. Runs are derandomised with a
fixed number of examples so CI is stable; the count is printed. Set CAMPAIGN_FUZZ_EXAMPLES for
a longer, random search.
"""

from __future__ import annotations

import io
import os
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.intake import IntakeError, read_file
from tests.conftest import CAMPAIGNS

DEEP = int(os.environ.get("CAMPAIGN_FUZZ_EXAMPLES", "0"))
TIME_LIMIT = 20  # seconds per example: a hang fails the test instead of stalling CI
CJK = re.compile("[\u4e00-\u9fff]")
HEADERS = ["线索编号", "报送单位", "权利人", "商标名称", "被投诉方", "收集日期", "行政区划代码",
           "涉案商品数量", "货值金额（万元）", "商标权属是否明晰", "重点类别", "备注", "权利人"]
FORMULAS = ["=1+1", "=HYPERLINK(\"http://x\",\"点我\")", "+cmd|' /C calc'!A0", "-2+3",
            "@SUM(A1:A2)", "=A1", "\t=1", "=" * 3]


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=DEEP or examples, deadline=None, derandomize=not DEEP,
                    database=None, suppress_health_check=list(HealthCheck))


class Hang(Exception):
    """An example that ran past TIME_LIMIT."""


@contextmanager
def time_limit(seconds: int = TIME_LIMIT) -> Iterator[None]:
    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"no answer within {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_fuzz(name: str, strategy: st.SearchStrategy[Any], check: Callable[[Any], None],
             examples: int) -> int:
    """Run ``check`` on ``examples`` derandomised examples, each under the time limit; print
    and return how many ran."""
    count = 0

    @fuzz_settings(examples)
    @given(strategy)
    def prop(value: Any) -> None:
        nonlocal count
        count += 1
        with time_limit():
            check(value)

    prop()
    print(f"\n{name}: {count} examples")
    return count


def expect_clear(path: Path) -> None:
    """The library property: the file is read, or refused with IntakeError in Chinese."""
    try:
        read_file(path, "lead")
    except IntakeError as exc:
        assert exc.code and CJK.search(exc.message), (exc.code, exc.message)


# --- strategies -------------------------------------------------------------------------------
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
CELLS = st.one_of(
    TEXT, st.sampled_from(FORMULAS), st.sampled_from(["", " ", "\n", "\"", "\"\"", ",", "\r\n"]),
    st.integers().map(str), st.floats(allow_nan=True).map(str),
    st.dates().map(lambda d: d.isoformat()), st.sampled_from(["2017年13月1日", "2017/2/30"]),
    st.builds(lambda ch, n: ch * n, st.sampled_from("x中\"\n"), st.integers(1000, 200_000)))
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"])


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """CSV text of random headers and cells, in one of the encodings staff's programs use."""
    headers = draw(st.lists(st.one_of(st.sampled_from(HEADERS), TEXT), min_size=1, max_size=6))
    rows = draw(st.lists(st.lists(CELLS, max_size=len(headers) + 2), max_size=6))
    out = io.StringIO()
    import csv

    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(draw(ENCODINGS), errors="replace")


XLSX_CELLS = st.one_of(
    st.none(), TEXT.map(lambda s: "".join(ch for ch in s if ch >= " " or ch in "\t\n\r")),
    st.sampled_from(FORMULAS), st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1900, 3, 1)), st.times().map(lambda t: t.replace(tzinfo=None)),
    st.builds(lambda n: "长" * n, st.integers(1000, 32_000)))


@st.composite
def xlsx_files(draw: st.DrawFn) -> bytes:
    """A workbook of one to three sheets with random names and random typed cells."""
    book = openpyxl.Workbook()
    sheets = [book.active]
    for _ in range(draw(st.integers(0, 2))):
        sheets.append(book.create_sheet())
    for n, sheet in enumerate(sheets):
        sheet.title = draw(st.from_regex(r"[A-Za-z0-9一-龥 ]{1,20}", fullmatch=True)) + str(n)
        header = draw(st.lists(st.one_of(st.sampled_from(HEADERS), XLSX_CELLS), max_size=6))
        if header:
            sheet.append(header)
        for row in draw(st.lists(st.lists(XLSX_CELLS, max_size=8), max_size=5)):
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _valid_xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["线索编号", "权利人"])
    book.active.append(["A-1", "某公司"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


VALID_XLSX = _valid_xlsx()


@st.composite
def broken_xlsx(draw: st.DrawFn) -> bytes:
    """A real workbook truncated or with bytes overwritten, or plain garbage named .xlsx."""
    how = draw(st.sampled_from(["truncate", "flip", "garbage", "zip-of-junk"]))
    if how == "truncate":
        return VALID_XLSX[:draw(st.integers(0, len(VALID_XLSX) - 1))]
    if how == "flip":
        data = bytearray(VALID_XLSX)
        for at in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=20)):
            data[at] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "zip-of-junk":
        import zipfile

        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for name in draw(st.lists(st.sampled_from(
                    ["[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml",
                     "xl/_rels/workbook.xml.rels", "_rels/.rels"]), max_size=5, unique=True)):
                zf.writestr(name, draw(st.binary(max_size=200)))
        return out.getvalue()
    return draw(st.binary(max_size=2000))


# --- the library --------------------------------------------------------------------------------
def test_csv_arbitrary_bytes(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"

    def check(data: bytes) -> None:
        path.write_bytes(data)
        expect_clear(path)

    assert run_fuzz("csv arbitrary bytes", st.binary(max_size=3000), check, 300) > 0


def test_csv_random_headers_unicode_formula_huge_cells_in_utf8_bom_gb18030_utf16(
        tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"

    def check(data: bytes) -> None:
        path.write_bytes(data)
        expect_clear(path)

    assert run_fuzz("csv cells and encodings", csv_files(), check, 300) > 0


def test_xlsx_random_typed_cells_formulas_dates_and_sheet_names(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"

    def check(data: bytes) -> None:
        path.write_bytes(data)
        expect_clear(path)

    assert run_fuzz("xlsx random cells", xlsx_files(), check, 120) > 0


def test_xlsx_truncated_bit_flipped_or_garbage(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"

    def check(data: bytes) -> None:
        path.write_bytes(data)
        expect_clear(path)

    assert run_fuzz("xlsx truncated or garbage", broken_xlsx(), check, 200) > 0


# --- through the command line -------------------------------------------------------------------
@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzzdb') / 'campaign.db'}"
    assert CliRunner().invoke(main, ["load", str(CAMPAIGNS / "sourcing_2017.yaml"), "--db",
                                     url]).exit_code == 0
    return url


def test_cli_lead_import_of_csv_xlsx_and_garbage_exits_0_or_1_without_traceback(
        tmp_path: Path, store_url: str) -> None:
    files = st.one_of(st.tuples(st.just(".csv"), st.one_of(csv_files(), st.binary(max_size=500))),
                      st.tuples(st.just(".xlsx"), st.one_of(xlsx_files(), broken_xlsx())))

    def check(case: tuple[str, bytes]) -> None:
        suffix, data = case
        path = tmp_path / f"leads{suffix}"
        path.write_bytes(data)
        result = CliRunner().invoke(main, ["lead", "import", str(path), "--campaign",
                                           "sourcing_2017", "--actor", "模糊测试", "--db",
                                           store_url])
        assert result.exit_code in (0, 1), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            repr(result.exception))
        assert "Traceback" not in result.output

    assert run_fuzz("cli lead import", files, check, 40) > 0


