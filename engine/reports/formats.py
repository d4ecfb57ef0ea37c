"""The statistics return's figures as CSV, JSON and Markdown (the .xlsx is :mod:`.xlsx`).

All three carry the same table as the form: 部门, 项目, one column per figure, and a 合计 row per
section. Each writer returns a string; the command prints it or writes it to a file. CSV text is
neutralised against formula injection like every other export; JSON keeps sums as decimal
strings ("12.50") so no amount passes through a binary float.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from engine.intake.export import neutralise
from engine.reports.returns import Column, FilledReturn, Value

TOTAL = "合计"


def show(value: Value | None, column: Column) -> str:
    """A figure as people read it: integers plain, 万元 with two decimals; absent is empty."""
    if value is None:
        return ""
    if column.decimal:
        return f"{Decimal(value):.2f}"
    return str(value)


def table_rows(filled: FilledReturn) -> Iterator[list[str]]:
    """部门, 项目, figures… for every row and every section's 合计, as display strings."""
    for section in filled.sections:
        for row in section.rows:
            yield [section.name, row.label,
                   *(show(row.values.get(c.header), c) for c in filled.columns)]
        yield [section.name, TOTAL,
               *(show(section.totals.get(c.header), c) for c in filled.columns)]


def headers(filled: FilledReturn) -> list[str]:
    return ["部门", "项目", *(c.header for c in filled.columns)]


def to_csv(filled: FilledReturn) -> str:
    """CSV of the table (callers writing a file add the BOM Excel needs for Chinese)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers(filled))
    for row in table_rows(filled):
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()


def _json_value(value: Value | None) -> Any:
    return format(value, "f") if isinstance(value, Decimal) else value


def to_data(filled: FilledReturn) -> dict[str, Any]:
    """The return as plain JSON-ready data."""
    return {
        "campaign": filled.campaign,
        "return": filled.form.id,
        "title": filled.form.title,
        "period": filled.period.code if filled.period else None,
        "period_label": filled.period_label,
        "body": filled.body_id,
        "body_name": filled.body_name,
        "columns": [{"header": c.header, "label": c.label, "unit": c.unit}
                    for c in filled.columns],
        "sections": [{
            "id": s.id, "name": s.name,
            "rows": [{"id": r.id, "label": r.label,
                      "values": {k: _json_value(v) for k, v in r.values.items()}}
                     for r in s.rows],
            "totals": {k: _json_value(v) for k, v in s.totals.items()},
        } for s in filled.sections],
        "texts": [{"id": t.id, "label": t.label} for t in filled.form.texts],
    }


def to_json(filled: FilledReturn) -> str:
    return json.dumps(to_data(filled), ensure_ascii=False, indent=2)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(filled: FilledReturn) -> str:
    """A Markdown table under the title and the fill-in line; the section name is shown on
    its first row only, as the merged cell reads on paper."""
    lines = [f"# {_md_cell(filled.form.title)}", ""]
    fill_ins = [f"{h}：{filled.body_name or ''}" if h.startswith("报送单位") else f"{h}："
                for h in filled.form.header]
    lines += ["　".join([*fill_ins, f"统计期间：{filled.period_label}"]), ""]
    head = headers(filled)
    lines.append("| " + " | ".join(_md_cell(h) for h in head) + " |")
    lines.append("|" + "|".join([" --- ", " --- "] + [" ---: "] * len(filled.columns)) + "|")
    previous = None
    for row in table_rows(filled):
        shown = ["" if row[0] == previous else row[0], *row[1:]]
        previous = row[0]
        if shown[1] == TOTAL:
            shown = [shown[0], f"**{TOTAL}**", *(f"**{v}**" if v else v for v in shown[2:])]
        lines.append("| " + " | ".join(_md_cell(c) for c in shown) + " |")
    for item in filled.form.texts:
        lines += ["", f"**{_md_cell(item.label)}**：", ""]
    return "\n".join(lines) + "\n"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def text_table(head: list[str], rows: list[list[str]]) -> str:
    """A plain-text table aligned for a terminal, counting CJK characters as two columns."""
    widths = [max([_width(h), *(_width(r[i]) for r in rows)]) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True))

    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)]).rstrip()


def csv_text(head: list[str], rows: list[list[str]]) -> str:
    """CSV of display strings, neutralised against formula injection."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head)
    writer.writerows([neutralise(c) for c in row] for row in rows)
    return out.getvalue()
