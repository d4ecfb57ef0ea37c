"""Write records, and the rows intake refused, back out as spreadsheets staff open.

Exports are opened in Excel or WPS by people who did not write their contents, so any text that
a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, a tab or CR at the start, and
their full-width forms) is written with a leading ``'``: it shows as text, it never runs. In XLSX
the same prefixed text is a plain string cell; openpyxl would otherwise store a string starting
with ``=`` as a formula. Numbers, dates and booleans are typed values and need no such care.

CSV is written as UTF-8 with a BOM, which both Excel and WPS open with Chinese intact.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.intake.headers import HeaderMap, value_label
from engine.intake.rows import Accepted, Rejected

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
"""Leading characters that make Excel, WPS or LibreOffice evaluate a cell (CSV injection)."""

REJECT_HEADERS = ("行号", "列", "原因")


def neutralise(text: str) -> str:
    """``text`` made inert for a spreadsheet: a leading ``'`` if it could start a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))


def write_csv(path: str | os.PathLike[str], headers: Sequence[str],
              rows: Iterable[Sequence[object]], *, encoding: str = "utf-8-sig") -> int:
    """Write a CSV with a header row; returns how many data rows were written. Streams."""
    count = 0
    with Path(path).open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([_csv_cell(h) for h in headers])
        for row in rows:
            writer.writerow([_csv_cell(v) for v in row])
            count += 1
    return count


def write_xlsx(path: str | os.PathLike[str], headers: Sequence[str],
               rows: Iterable[Sequence[object]], *, sheet_title: str = "Sheet1") -> int:
    """Write an XLSX in write-only mode (constant memory); returns how many data rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE as ILLEGAL

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet_title)

    def cell(value: object) -> object:
        if isinstance(value, str):
            text = neutralise(ILLEGAL.sub("", value))
            if text in ERROR_CODES:  # '#N/A' typed as text must stay text, not an error value
                c = WriteOnlyCell(ws, value=text)
                c.data_type = "s"
                return c
            return text
        if value is None or isinstance(value, int | float | Decimal | date):
            return value
        return neutralise(ILLEGAL.sub("", str(value)))

    ws.append([cell(h) for h in headers])
    count = 0
    for row in rows:
        ws.append([cell(v) for v in row])
        count += 1
    book.save(Path(path))
    return count


def write_rejects(path: str | os.PathLike[str], rejected: Iterable[Rejected]) -> int:
    """The reject file staff work through: one line per problem (row, column, reason), as CSV."""
    lines = ((r.row, p.column, p.reason) for r in rejected for p in r.problems)
    return write_csv(path, REJECT_HEADERS, lines)


def record_table(mapping: HeaderMap, records: Iterable[Accepted | Mapping[str, Any]],
                 fields: Sequence[str] | None = None) -> tuple[list[str], Iterator[list[Any]]]:
    """Headers (the Chinese labels) and rows for exporting records; re-importable as is.

    Enum codes become their Chinese words and booleans 是/否, as staff would type them.
    """
    names = list(fields) if fields is not None else list(mapping.fields)
    unknown = [n for n in names if n not in mapping.fields]
    if unknown:
        raise ValueError(f"unknown {mapping.kind} fields: {', '.join(unknown)}")
    kinds = [mapping.fields[n].type for n in names]

    def show(value: Any, ftype: str) -> Any:
        if value is None:
            return None
        if ftype == "enum":
            return value_label(value)
        if isinstance(value, bool):
            return "是" if value else "否"
        return value

    def rows() -> Iterator[list[Any]]:
        for record in records:
            values = record.values if isinstance(record, Accepted) else record
            yield [show(values.get(n), t) for n, t in zip(names, kinds, strict=True)]

    return [mapping.fields[n].label for n in names], rows()
