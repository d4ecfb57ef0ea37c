"""Read a workbook's sheet with calamine (Rust) instead of openpyxl: about ten times faster.

calamine parses the whole sheet into memory before the first row is handed over, where openpyxl
streams it. A sheet is therefore read this way only while its XML (the uncompressed size the zip
directory declares) is at most :data:`FAST_MAX_XML`; in memory it takes about 1.3 times its XML
size with inline strings (openpyxl's write-only files, 1 KB of XML per 13-column lead row) and
up to about twice with shared strings (Excel's). Larger sheets stream through openpyxl as before.

Cells come out as openpyxl's read-only, ``data_only`` mode gives them, so everything downstream
parses the same values: an empty cell is None (calamine says ``""``), a whole number is an int
(calamine has only floats; openpyxl makes an int of any number written without a point or an
exponent, which is how Excel and openpyxl write whole numbers below 1e16), a date is a midnight
datetime (calamine gives a date). One difference remains: a cell holding an error value
(``#N/A``, ``#DIV/0!``) reads as empty, where openpyxl read its text.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from engine.intake.readers import IntakeError, Table

FAST_MAX_XML = 256 * 1024 * 1024
"""Largest total of worksheet XML (bytes, uncompressed) read with calamine: ~350-500 MB held."""


def fits(path: Path) -> bool:
    """Whether ``path``'s worksheets are small enough to be read whole (see module doc)."""
    try:
        import python_calamine  # noqa: F401 - an install without it reads with openpyxl
    except ImportError:
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(i.file_size for i in archive.infolist()
                       if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml"))
    except Exception:  # not a zip, or a damaged one: openpyxl's path words the error
        return False
    return 0 < size <= FAST_MAX_XML


def _cell(value: Any) -> Any:
    """A non-text calamine value as openpyxl would have read it."""
    if value.__class__ is float:
        return int(value) if value.is_integer() and -1e16 < value < 1e16 else value
    if value.__class__ is date:
        return datetime.combine(value, time())
    return value


def _cells(row: list[Any], pad: list[None]) -> list[Any]:
    cells = [(v or None) if v.__class__ is str else _cell(v) for v in row]  # "" is empty
    return pad + cells if pad else cells


class CalamineTable(Table):
    """The first visible (or a named) worksheet of a workbook, read whole by calamine."""

    def __init__(self, path: Path, header_row: int = 1, sheet: str | None = None) -> None:
        super().__init__(path, header_row)
        from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

        try:
            book = CalamineWorkbook.from_path(str(path))
            names = book.sheet_names
            if sheet is None:  # the first sheet staff see, not a hidden one of drop-downs
                sheets = [m for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
                sheet = next((m.name for m in sheets if m.visible == SheetVisibleEnum.Visible),
                             sheets[0].name if sheets else names[0] if names else None)
            elif sheet not in names:
                raise IntakeError("no-sheet",
                                  f"工作簿中没有名为“{sheet}”的工作表；现有：{'、'.join(names)}",
                                  f"no sheet named '{sheet}'; the workbook has: {', '.join(names)}")
            if sheet is None:
                raise ValueError("the workbook has no sheet")
            ws = book.get_sheet_by_name(sheet)
            book.close()
        except IntakeError:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # calamine's errors, and a Rust panic on a damaged file
            raise IntakeError("bad-xlsx", f"不是有效的 .xlsx 文件（{exc}）；请用 Excel 或 WPS "
                              "重新另存为 .xlsx", f"not a valid .xlsx file ({exc})") from exc
        self.sheet = sheet
        self._expected = ws.total_height
        start = ws.start
        self._pad: list[None] = [None] * start[1] if start else []
        self._iter = enumerate(ws.iter_rows(), start=1)  # rows from the sheet's first
        self._at = 0
        for number, cells in self._iter:
            if number == header_row:
                self._set_header(_cells(cells, self._pad))
                break
        else:
            raise IntakeError("empty-file", f"工作表“{self.sheet}”不足 {header_row} 行，没有表头",
                              f"sheet '{self.sheet}' has fewer than {header_row} rows")

    def _raw_rows(self) -> Iterator[tuple[int, tuple[Any, ...] | list[Any]]]:
        pad, cell = self._pad, _cell
        for number, cells in self._iter:
            self._at = number
            row = [(v or None) if v.__class__ is str else cell(v) for v in cells]  # as _cells
            yield number, pad + row if pad else row

    def fraction(self) -> float | None:
        return min(self._at / self._expected, 1.0) if self._expected else None

    def close(self) -> None:
        self._iter = enumerate(())
