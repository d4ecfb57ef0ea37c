"""The statistics return as an .xlsx laid out like the paper form a body stamps and sends.

Layout, top to bottom: the title merged across the table; the header fill-ins (报送单位（盖章）,
报送时间, and the period covered) as one line; the table — 部门 | 项目 | one column per figure
with its unit — where each section's name is merged down over its rows and its 合计 row; then
each text field of the form as a label and an empty bordered area to write in.

A normal (not write-only) workbook is used: the form is a few dozen cells and needs merged
ranges, which write-only mode cannot make. The font is named 宋体 with the GB2312 charset so
Excel and WPS pick SimSun (or their CJK substitute); the file only names it. Any text that a
spreadsheet would evaluate (``=``, ``+``, ``-``, ``@`` …) is written inert the same way the
record exports are (:func:`engine.intake.export.neutralise`).
"""

from __future__ import annotations

import os
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from engine.intake.export import neutralise
from engine.reports.returns import Column, FilledReturn, Value

FONT_NAME = "宋体"
GB2312 = 134
THIN = Side(style="thin", color="000000")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
TOP_LEFT = Alignment(horizontal="left", vertical="top", wrap_text=True)
TEXT_AREA_ROWS = 5


def _font(size: float = 11, bold: bool = False) -> Font:
    return Font(name=FONT_NAME, charset=GB2312, size=size, bold=bold)


def text(value: str) -> str:
    """Text from the definition or the data, made inert for a spreadsheet."""
    return neutralise(value)


def number_format(column: Column) -> str:
    return "#,##0.00" if column.decimal else "0"


def _put(ws: Worksheet, row: int, col: int, value: str | Value | None, *,
         align: Alignment = CENTRE, bold: bool = False, size: float = 11,
         fmt: str | None = None, border: bool = True) -> None:
    cell = ws.cell(row=row, column=col, value=text(value) if isinstance(value, str) else value)
    cell.font = _font(size, bold)
    cell.alignment = align
    if border:
        cell.border = BOX
    if fmt:
        cell.number_format = fmt


def _merge(ws: Worksheet, first_row: int, first_col: int, last_row: int, last_col: int,
           *, border: bool = True) -> None:
    """Merge a range whose top-left cell already holds its value; border every cell first
    so the merged block is boxed on all sides."""
    if border:
        for r in range(first_row, last_row + 1):
            for c in range(first_col, last_col + 1):
                ws.cell(row=r, column=c).border = BOX
    if (first_row, first_col) != (last_row, last_col):
        ws.merge_cells(start_row=first_row, start_column=first_col, end_row=last_row,
                       end_column=last_col)


def header_line(filled: FilledReturn) -> str:
    """The fill-in line under the title: each header item with room (or its value) after it."""
    known = {"报送单位": filled.body_name or ""}
    parts = []
    for item in filled.form.header:
        value = next((v for k, v in known.items() if item.startswith(k) and v), "")
        parts.append(f"{item}：{value or ' ' * 12}")
    parts.append(f"统计期间：{filled.period_label}")
    return "    ".join(parts)


def render(filled: FilledReturn) -> Workbook:
    """The workbook (not saved): one sheet laid out like the form."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "统计表"
    width = 2 + len(filled.columns)
    _put(ws, 1, 1, filled.form.title, bold=True, size=16, border=False)
    _merge(ws, 1, 1, 1, width, border=False)
    ws.row_dimensions[1].height = 36
    _put(ws, 2, 1, header_line(filled), align=LEFT, border=False)
    _merge(ws, 2, 1, 2, width, border=False)
    ws.row_dimensions[2].height = 24

    row = 3
    for col, heading in enumerate(["部门", "项目", *(c.header for c in filled.columns)], 1):
        _put(ws, row, col, heading, bold=True)
    ws.row_dimensions[row].height = 30
    formats = {c.header: number_format(c) for c in filled.columns}
    for section in filled.sections:
        first = row + 1
        _put(ws, first, 1, section.name, bold=True)
        for item in section.rows:
            row += 1
            _put(ws, row, 2, item.label, align=LEFT)
            for col, column in enumerate(filled.columns, 3):
                value = item.values.get(column.header)
                _put(ws, row, col, value, fmt=formats[column.header])
        row += 1
        _put(ws, row, 2, "合计", bold=True)
        for col, column in enumerate(filled.columns, 3):
            _put(ws, row, col, section.totals.get(column.header), bold=True,
                 fmt=formats[column.header])
        _merge(ws, first, 1, row, 1)

    for item in filled.form.texts:
        row += 1
        _put(ws, row, 1, f"{item.label}：", align=LEFT, bold=True)
        _merge(ws, row, 1, row, width)
        _put(ws, row + 1, 1, None, align=TOP_LEFT)
        _merge(ws, row + 1, 1, row + TEXT_AREA_ROWS, width)
        row += TEXT_AREA_ROWS

    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = max(20, 2.2 * max(
        (len(r.label) for s in filled.sections for r in s.rows), default=8) + 2)
    for col, column in enumerate(filled.columns, 3):
        ws.column_dimensions[get_column_letter(col)].width = max(14, 2.2 * len(column.header))
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    return book


def write_xlsx(filled: FilledReturn, path: str | os.PathLike[str]) -> Path:
    """Write the return to ``path`` and return it."""
    target = Path(path)
    render(filled).save(target)
    return target
