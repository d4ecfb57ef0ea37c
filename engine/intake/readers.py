"""Stream the rows of a spreadsheet staff filled in, whatever program saved it.

Staff send ``.csv`` saved by Excel or WPS (UTF-8, UTF-8 with a BOM, or GB18030/GBK on Chinese
Windows) and ``.xlsx``. Everything here streams: an import of a million rows must not hold the
file in memory, so the CSV is decoded incrementally and the workbook is opened read-only.

Rows are numbered as staff see them in Excel (the header is row 1), so that a rejection message
points at the row they will scroll to. The encoding actually used is reported, never guessed
silently: a file is UTF-8 only if every byte of it is, otherwise GB18030 if every byte of it is,
otherwise it is refused.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO
from xml.etree.ElementTree import ParseError

from openpyxl.utils import get_column_letter

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
"""Larger files are refused: a 1M-row lead file is about 300 MB as CSV, far less as XLSX."""

_CHUNK = 1 << 18
_EXTENSIONS = (".csv", ".xlsx")

RowValues = dict[str, Any]


class IntakeError(Exception):
    """A file, mapping or record that cannot be imported; ``message`` is for staff, in Chinese.

    ``code`` is stable (tests and tools match on it, never on the wording); ``message_en`` is for
    logs and English-speaking maintainers.
    """

    def __init__(self, code: str, message: str, message_en: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_en = message_en


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _column_letter(index: int) -> str:
    """Excel's name of the 0-based column ``index`` (0 -> A, 26 -> AA), as staff see it."""
    return get_column_letter(index + 1)


def _decodes_fully(path: Path, encoding: str) -> tuple[int | None, bool]:
    """(None if the whole file decodes as ``encoding`` else the failing byte offset, and
    whether text of that encoding came before that point: a whole chunk with non-ASCII bytes,
    or a whole line holding a Chinese character).

    A line, not a byte: about one GBK character in five is also a valid two-byte UTF-8
    sequence (权 is ``C8 A8``, UTF-8 for Ȩ), so a GBK file may decode as UTF-8 for a character
    or two before it fails, and is not UTF-8 text for that. Reads in chunks so a large file is
    checked without being held in memory.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, non_ascii = 0, False
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start, non_ascii or _chinese_line(chunk[:exc.start],
                                                                      encoding)
            non_ascii = non_ascii or not chunk.isascii()
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset, non_ascii
    return None, non_ascii


def _chinese_line(head: bytes, encoding: str) -> bool:
    """Whether ``head`` (bytes that decode as ``encoding``) holds a complete line with a
    Chinese character in it."""
    lines = head.decode(encoding, errors="replace").splitlines(keepends=True)
    return any(line.endswith(("\n", "\r")) and any(ch >= "\u2e80" for ch in line)
               for line in lines)


def detect_encoding(path: Path) -> str:
    """The encoding of a CSV file: ``utf-8-sig``, ``utf-8`` or ``gb18030``, or an error.

    UTF-8 is tried first because a GB18030 decoder accepts most UTF-8 bytes too (as the wrong
    characters). A GBK file fails as UTF-8 at its first Chinese character; a file whose Chinese
    reads as UTF-8 and then stops doing so is damaged or pasted together, and is refused rather
    than read as GB18030 nonsense.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise IntakeError("utf16", "文件为 UTF-16 编码；请另存为“CSV UTF-8（逗号分隔）”",
                          "the file is UTF-16; save it as 'CSV UTF-8 (comma delimited)'")
    name = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    bad_utf8, utf8_before = _decodes_fully(path, name)
    if bad_utf8 is None:
        return name
    if utf8_before:
        raise IntakeError(
            "mixed-encoding",
            f"文件前面的中文是 UTF-8 编码，第 {bad_utf8} 字节处却不是；文件可能已损坏或由不同编码"
            "的内容拼接而成；请用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”",
            f"the file is UTF-8 up to byte {bad_utf8} and not after it: damaged or mixed")
    bad_gb, _ = _decodes_fully(path, "gb18030")
    if bad_gb is None:
        return "gb18030"
    raise IntakeError(
        "bad-encoding",
        f"无法识别文件编码：既不是 UTF-8（第 {bad_utf8} 字节处出错），也不是 GB18030/GBK"
        f"（第 {bad_gb} 字节处出错）；请另存为“CSV UTF-8（逗号分隔）”",
        f"unknown encoding: not UTF-8 (fails at byte {bad_utf8}) nor GB18030/GBK "
        f"(fails at byte {bad_gb}); save it as 'CSV UTF-8 (comma delimited)'")


class Table:
    """An open spreadsheet: its header, the encoding used, and an iterator over its rows.

    Use as a context manager, or call :meth:`close`. ``warnings`` fills in while rows are read
    (data in a column without a header is reported once, not per row).
    """

    encoding: str | None = None

    def __init__(self, path: Path, header_row: int) -> None:
        self.path = path
        self.header_row = header_row
        self.headers: tuple[str, ...] = ()
        self.warnings: list[str] = []
        self._columns: list[tuple[int, str]] = []
        self._headerless: list[int] = []
        self._width = 0
        self._warned_headerless = False

    # -- subclasses provide these ---------------------------------------------------------------
    def _raw_rows(self) -> Iterator[tuple[int, tuple[Any, ...] | list[Any]]]:
        raise NotImplementedError

    def fraction(self) -> float | None:
        """How far through the file reading has got (0..1), if it can be told; for progress."""
        return None

    def close(self) -> None:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    def __enter__(self) -> Table:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _set_header(self, cells: tuple[Any, ...] | list[Any]) -> None:
        seen: dict[str, int] = {}
        for index, cell in enumerate(cells):
            text = "" if cell is None else str(cell).strip()
            if not text:
                self._headerless.append(index)
                continue
            if text in seen:
                raise IntakeError(
                    "duplicate-header",
                    f"第 {self.header_row} 行表头中“{text}”出现了两次（第 "
                    f"{_column_letter(seen[text])} 列和第 {_column_letter(index)} 列）；"
                    "请删除或改名其中一列",
                    f"header '{text}' appears twice (columns {_column_letter(seen[text])} and "
                    f"{_column_letter(index)})")
            seen[text] = index
            self._columns.append((index, text))
        if not self._columns:
            raise IntakeError("no-header", f"第 {self.header_row} 行没有列名；表头应在第 "
                              f"{self.header_row} 行", f"row {self.header_row} holds no headers")
        self.headers = tuple(text for _, text in self._columns)
        self._width = len(cells)

    def _note_headerless(self, number: int, cells: tuple[Any, ...] | list[Any]) -> None:
        extra = [i for i in self._headerless if i < len(cells) and not _blank(cells[i])]
        extra += [i for i in range(self._width, len(cells)) if not _blank(cells[i])]
        if extra:
            self._warned_headerless = True
            self.warnings.append(
                f"第 {_column_letter(extra[0])} 列没有列名，其中的数据（首见于第 {number} 行）"
                "未导入")

    def records(self) -> Iterator[tuple[int, list[Any] | tuple[Any, ...]]]:
        """``(row_number, cells)`` for each row below the header that has data, the cells lined
        up with :attr:`headers` (a short row padded with None, headerless columns left out)."""
        columns, full = self._columns, self._width
        # no header cell left empty: a row as long as the header is used as it is
        dense = not self._headerless and [i for i, _ in columns] == list(range(full))
        for number, cells in self._raw_rows():
            width = len(cells)
            if dense and width == full:
                row = cells
            elif dense and width > full:
                row = cells[:full]
            else:
                row = [cells[i] if i < width else None for i, _ in columns]
            if (width > full or self._headerless) and not self._warned_headerless:
                self._note_headerless(number, cells)
            for value in row:  # skip a row with nothing in it, as _blank says
                if value is not None and (not isinstance(value, str) or value.strip()):
                    break
            else:
                continue
            yield number, row

    def rows(self) -> Iterator[tuple[int, RowValues]]:
        """``(row_number, {header: raw value})`` for each row below the header that has data."""
        headers = self.headers
        for number, cells in self.records():
            yield number, dict(zip(headers, cells, strict=True))


class CsvTable(Table):
    """A CSV file decoded incrementally; one CSV record is one spreadsheet row."""

    def __init__(self, path: Path, header_row: int = 1) -> None:
        super().__init__(path, header_row)
        self.encoding = detect_encoding(path)
        self._size = max(path.stat().st_size, 1)
        self._binary: BinaryIO = path.open("rb")
        text = io.TextIOWrapper(self._binary, encoding=self.encoding, newline="")
        # Python's csv stops the whole file at a cell over 128 KiB; a cell that long is one
        # row's mistake, refused by its length limit like any other (the file size bounds it)
        if csv.field_size_limit() < DEFAULT_MAX_BYTES:
            csv.field_size_limit(DEFAULT_MAX_BYTES)
        self._reader = csv.reader(text)
        self._number = 0
        try:
            for number, cells in self._records():
                if number == header_row:
                    self._check_delimiter(cells)
                    self._set_header(cells)
                    break
            else:
                raise IntakeError("empty-file", f"文件不足 {header_row} 行，没有表头",
                                  f"the file has fewer than {header_row} rows: no header")
        except BaseException:
            self.close()
            raise

    def _check_delimiter(self, cells: list[str]) -> None:
        """A header read as one cell holding ``;`` or tabs was saved with another separator."""
        if len(cells) == 1 and any(sep in cells[0] for sep in ";\t"):
            raise IntakeError("bad-delimiter",
                              "表头只有一列且含有分号或制表符：文件不是用逗号分隔的；"
                              "请另存为“CSV UTF-8（逗号分隔）”",
                              "the header is one cell holding ';' or tabs: not comma-separated")

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        try:
            for cells in self._reader:
                self._number += 1
                yield self._number, cells
        except csv.Error as exc:
            raise IntakeError("csv-syntax", f"第 {self._number + 1} 行 CSV 格式错误：{exc}",
                              f"row {self._number + 1}: malformed CSV: {exc}") from exc

    def _raw_rows(self) -> Iterator[tuple[int, tuple[Any, ...] | list[Any]]]:
        return self._records()

    def fraction(self) -> float | None:
        return None if self._binary.closed else min(self._binary.tell() / self._size, 1.0)

    def close(self) -> None:
        self._binary.close()


CJK_DATE_FORMATS = frozenset({27, 28, 29, 30, 31, 36, 50, 51, 52, 53, 54, 57, 58})
"""Built-in number formats that Chinese Excel and WPS show as dates (2017年10月1日, 10月1日…).

ECMA-376 leaves ids 27-36 and 50-58 to the locale, so openpyxl knows no format for them and
reads such a cell as its serial number (43009): a date column "not a date". calamine reads
them as dates; the time-only ones (32-35, 55, 56) are not dates and stay numbers."""


def _mark_cjk_dates(book: Any) -> None:
    """Have openpyxl read cells in :data:`CJK_DATE_FORMATS` as dates, as calamine does.

    openpyxl converts a cell when its style's index is in ``book._date_formats``, worked out
    from the format codes it knows; the styles using a Chinese built-in date format are added
    to it. Private to openpyxl, hence the guard: a version without them reads as before, and
    the test of a 2017年10月1日 cell read by both readers says so."""
    styles, dates = getattr(book, "_cell_styles", None), getattr(book, "_date_formats", None)
    if styles is None or not isinstance(dates, set):
        return
    dates.update(i for i, style in enumerate(styles)
                 if getattr(style, "numFmtId", None) in CJK_DATE_FORMATS)


class XlsxTable(Table):
    """The first visible (or a named) sheet of a workbook, read-only, with cached formula
    values."""

    def __init__(self, path: Path, header_row: int = 1, sheet: str | None = None) -> None:
        super().__init__(path, header_row)
        import openpyxl
        try:
            self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise IntakeError("bad-xlsx", f"不是有效的 .xlsx 文件（{exc}）；请用 Excel 或 WPS "
                              "重新另存为 .xlsx", f"not a valid .xlsx file ({exc})") from exc
        _mark_cjk_dates(self._book)
        names = self._book.sheetnames
        if sheet is not None and sheet not in names:
            self.close()
            raise IntakeError("no-sheet",
                              f"工作簿中没有名为“{sheet}”的工作表；现有：{'、'.join(names)}",
                              f"no sheet named '{sheet}'; the workbook has: {', '.join(names)}")
        # staff see the first visible sheet; a hidden one first (drop-down lists) is not it
        ws = self._book[sheet] if sheet is not None else next(
            (w for w in self._book.worksheets if w.sheet_state == "visible"),
            self._book.worksheets[0])
        self.sheet = ws.title
        self._expected = ws.max_row  # from the file's declared dimension; only for progress
        ws.reset_dimensions()  # a wrong declared dimension (some writers) would cut rows off
        self._iter = enumerate(ws.iter_rows(min_row=1, values_only=True), start=1)
        self._at = 0
        try:
            for number, cells in self._iter:
                if number == header_row:
                    self._set_header(cells)
                    break
            else:
                raise IntakeError("empty-file",
                                  f"工作表“{self.sheet}”不足 {header_row} 行，没有表头",
                                  f"sheet '{self.sheet}' has fewer than {header_row} rows")
        except BaseException:
            self.close()
            raise

    def _raw_rows(self) -> Iterator[tuple[int, tuple[Any, ...] | list[Any]]]:
        try:
            for number, cells in self._iter:
                self._at = number
                yield number, cells
        except (zipfile.BadZipFile, ParseError, ValueError, KeyError) as exc:
            raise IntakeError("bad-xlsx", f"第 {self._at + 1} 行附近的内容已损坏（{exc}）",
                              f"the sheet is damaged near row {self._at + 1} ({exc})") from exc

    def fraction(self) -> float | None:
        return min(self._at / self._expected, 1.0) if self._expected else None

    def close(self) -> None:
        self._book.close()


def open_table(path: str | os.PathLike[str], *, sheet: str | None = None, header_row: int = 1,
               max_bytes: int = DEFAULT_MAX_BYTES) -> Table:
    """Open ``path`` (.csv or .xlsx) for streaming; the header is read, the rows are not yet.

    Checks the size before anything is parsed, so an oversized upload costs nothing.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _EXTENSIONS:
        hint = "；旧版 .xls 请在 Excel 或 WPS 中另存为 .xlsx" if suffix == ".xls" else ""
        raise IntakeError("bad-extension",
                          f"不支持的文件类型“{suffix or '（无扩展名）'}”："
                          f"只接受 .csv 和 .xlsx{hint}",
                          f"unsupported file type '{suffix}': only .csv and .xlsx are accepted")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise IntakeError("unreadable", f"无法读取文件（{exc.strerror}）",
                          f"cannot read the file ({exc.strerror})") from exc
    if size > max_bytes:
        raise IntakeError("too-large",
                          f"文件过大（{size} 字节，上限 {max_bytes} 字节）；请分批导入",
                          f"file too large ({size} bytes, limit {max_bytes}); split it")
    if size == 0:
        raise IntakeError("empty-file", "文件为空", "the file is empty")
    if header_row < 1:
        raise IntakeError("bad-header-row", "表头行号必须从 1 开始", "header_row must be >= 1")
    if suffix == ".csv":
        if sheet is not None:
            raise IntakeError("no-sheet", "CSV 文件没有工作表，不能指定工作表名称",
                              "a CSV file has no sheets")
        return CsvTable(p, header_row)
    from engine.intake.xlsx_fast import CalamineTable, fits

    if fits(p):
        return CalamineTable(p, header_row, sheet)
    return XlsxTable(p, header_row, sheet)


def iter_rows(path: str | os.PathLike[str], *, sheet: str | None = None, header_row: int = 1,
              max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[tuple[int, RowValues]]:
    """Every non-empty row of ``path`` as ``(row_number, {header: raw value})``; closes the file."""
    with open_table(path, sheet=sheet, header_row=header_row, max_bytes=max_bytes) as table:
        yield from table.rows()
