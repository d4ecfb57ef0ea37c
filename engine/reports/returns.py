"""A campaign's statistics return (统计表) filled from its case records for a period.

The return is data (:class:`~engine.spec.model.ReturnForm`): sections (e.g. by handling kind),
rows (e.g. by right type), and measures (a count, or the sum of a case field), each narrowed by
``where`` conditions that are ANDed section → row → measure. The figures are computed by ONE
aggregate query: every measure becomes a ``COUNT``/``SUM`` over a ``CASE WHEN`` of its
conditions, so a million cases are one scan in the database, never a million Python objects.

Building the query (:func:`figures_query`) and laying the figures into the form
(:func:`fill`) are pure; only :func:`compute` touches the store.

Which date puts a case in a month: ``opened_on`` (立案日期). A monthly return reports the cases
*查处* in that month, and a case is counted once, in the month it was opened (立案); using the
closing date would leave every case still under investigation out of the returns altogether,
and using the registration timestamp would count when a clerk typed it in, not when the
regulator acted. A case without ``opened_on`` is in no month; it is counted only in a return
for the whole campaign, which takes every case of the campaign regardless of dates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select, true

from engine.spec.fields import CASE_FIELDS
from engine.spec.loader import Definition
from engine.spec.model import Measure, ReturnForm
from engine.store.db import Store
from engine.store.tables import cases

PERIOD_DATE_FIELD = "opened_on"
Value = int | Decimal
ZERO_DECIMAL = Decimal("0.00")
CENT = Decimal("0.01")
_GENERIC = {"人": "人数", "万元": "金额", "元": "金额", "件": "数量"}
_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


class ReportError(ValueError):
    """A report cannot be made as asked; the message is Chinese and meant for people."""


@dataclass(frozen=True, slots=True)
class Period:
    """One calendar month: ``start <= opened_on < end``."""

    start: date
    end: date

    @property
    def code(self) -> str:
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.start.year}年{self.start.month}月"


def parse_period(text: str) -> Period:
    """``2017-10`` → that month; anything else is a :class:`ReportError` naming the form."""
    match = _PERIOD.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ReportError(f"统计期间“{text}”格式不对：应写作 年-月，如 2017-10")
    year, month = int(match.group(1)), int(match.group(2))
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return Period(date(year, month, 1), end)


@dataclass(frozen=True, slots=True)
class Column:
    """One value column of the laid-out table, e.g. 案件数量（件）."""

    label: str
    unit: str
    decimal: bool  # sums of a decimal field (万元) show two decimals; counts are integers

    @property
    def header(self) -> str:
        return f"{self.label}（{self.unit}）"


@dataclass(frozen=True, slots=True)
class FilledRow:
    id: str
    label: str
    values: Mapping[str, Value]  # column header -> figure (only the row's own columns)


@dataclass(frozen=True, slots=True)
class FilledSection:
    id: str
    name: str
    rows: tuple[FilledRow, ...]
    totals: Mapping[str, Value]  # 合计: column header -> sum over the section's rows


@dataclass(frozen=True, slots=True)
class FilledReturn:
    """A return with its figures, ready for any writer (xlsx, csv, json, md)."""

    form: ReturnForm
    campaign: str
    period: Period | None
    body_id: str | None
    body_name: str | None
    columns: tuple[Column, ...]
    sections: tuple[FilledSection, ...]

    @property
    def period_label(self) -> str:
        return self.period.label if self.period else "专项行动全程"


def _field_type(name: str, definition: Definition | None) -> str:
    if name in CASE_FIELDS:
        return CASE_FIELDS[name].type
    life = definition.campaign.lifecycles.case if definition and \
        definition.campaign.lifecycles else None
    declared = {fd.name: fd.type for fd in (life.fields if life else ())}
    return declared.get(name, "string")


def layout(form: ReturnForm, definition: Definition | None = None
           ) -> tuple[tuple[Column, ...], dict[tuple[str, str, str], str]]:
    """The table's value columns, and which column each (section, row, measure) fills.

    A labelled measure gets the column ``label（unit）``. An unlabelled one (the police and
    procuratorate rows of the annex form name the figure in the row label, e.g. 立案数 件)
    goes into the first column with the same unit that its row does not already fill, so a
    count of cases lands under 案件数量（件） and an amount under 涉案金额（万元）; with no such
    column it opens a generic one for its unit (人 → 人数（人）). Pure and deterministic.
    """
    columns: dict[str, Column] = {}
    where: dict[tuple[str, str, str], str] = {}
    for section in form.sections:
        for row in section.rows:
            used: set[str] = set()
            for m in row.measures:
                decimal = m.aggregate == "sum" and _field_type(m.field or "", definition) \
                    == "decimal"
                if m.label:
                    candidates = [Column(m.label, m.unit, decimal).header]
                else:
                    candidates = [h for h, c in columns.items() if c.unit == m.unit]
                    generic = _GENERIC.get(m.unit, "数值")
                    candidates.append(Column(generic, m.unit, decimal).header)
                header = next((h for h in candidates if h not in used), None)
                if header is None:  # a row with two same-labelled figures: number them
                    header = Column(f"{_label_of(candidates[-1])}{len(used) + 1}", m.unit,
                                    decimal).header  # 人数2（人）: the header is its column's
                if header not in columns:
                    columns[header] = Column(_label_of(header), m.unit, decimal)
                elif decimal and not columns[header].decimal:
                    columns[header] = Column(columns[header].label, m.unit, True)
                used.add(header)
                where[(section.id, row.id, m.id)] = header
    return tuple(columns.values()), where


def _label_of(header: str) -> str:
    """案件数量 of 案件数量（件）."""
    return header.rsplit("（", 1)[0] if "（" in header else header


def _field(name: str, value: Any = None, *, numeric: bool = False) -> ColumnElement[Any]:
    """A case field as SQL: its typed column, or a typed path into the ``extra`` JSON."""
    if name in CASE_FIELDS:
        return cases.c[name]
    elem = cases.c.extra[name]
    if numeric:
        return elem.as_numeric(18, 4)
    if isinstance(value, bool):
        return elem.as_boolean()
    if isinstance(value, int):
        return elem.as_integer()
    if isinstance(value, float | Decimal):
        return elem.as_float()
    return elem.as_string()


def _conditions(*wheres: Mapping[str, Any]) -> ColumnElement[bool]:
    terms = [_field(k, v) == (v.isoformat() if isinstance(v, date) and k not in CASE_FIELDS
                              else v)
             for w in wheres for k, v in w.items()]
    return and_(true(), *terms) if terms else true()


def _aggregate(measure: Measure, cond: ColumnElement[bool]) -> ColumnElement[Any]:
    if measure.aggregate == "count":
        return func.count(case((cond, literal(1))))
    return func.sum(case((cond, _field(measure.field or "", numeric=True)), else_=None))


def measures_of(form: ReturnForm) -> list[tuple[str, str, Measure, Mapping[str, Any]]]:
    """Every measure with its ANDed conditions, in form order."""
    return [(s.id, r.id, m, {**s.where, **r.where, **m.where})
            for s in form.sections for r in s.rows for m in r.measures]


def figures_query(form: ReturnForm, campaign: str, period: Period | None = None,
                  bodies: Iterable[str] | None = None) -> Select[Any]:
    """One aggregate SELECT over the campaign's cases: column ``m{i}`` is the i-th measure."""
    cols = []
    for i, (_, _, measure, conds) in enumerate(measures_of(form)):
        cols.append(_aggregate(measure, _conditions(conds)).label(f"m{i}"))
    query = select(*cols).select_from(cases).where(cases.c.campaign_id == campaign)
    if period is not None:
        date_col = cases.c[PERIOD_DATE_FIELD]
        query = query.where(date_col >= period.start, date_col < period.end)
    if bodies is not None:
        query = query.where(cases.c.body_id.in_(sorted(bodies)))
    return query


def _as_value(raw: Any, decimal: bool) -> Value:
    """A figure as the return states it: 万元 to the cent, rounded half up (四舍五入, not
    Python's half-even), before anything is added up, so each 合计 is the sum of the figures
    above it and every format (csv, md, xlsx) holds the same numbers."""
    if decimal:
        return Decimal(str(raw or 0)).quantize(CENT, rounding=ROUND_HALF_UP) + ZERO_DECIMAL
    return int(raw or 0)


def fill(form: ReturnForm, figures: list[Any], *, campaign: str, period: Period | None,
         body_id: str | None = None, body_name: str | None = None,
         definition: Definition | None = None) -> FilledReturn:
    """Lay the query's figures (in :func:`measures_of` order) into sections, rows, totals."""
    columns, where = layout(form, definition)
    kinds = {c.header: c.decimal for c in columns}
    raw = dict(zip([(s, r, m.id) for s, r, m, _ in measures_of(form)], figures, strict=True))
    sections = []
    for section in form.sections:
        rows = []
        totals: dict[str, Value] = {}
        for row in section.rows:
            values: dict[str, Value] = {}
            for m in row.measures:
                header = where[(section.id, row.id, m.id)]
                value = _as_value(raw[(section.id, row.id, m.id)], kinds[header])
                values[header] = value
                totals[header] = totals.get(header, 0) + value
            rows.append(FilledRow(row.id, row.label, MappingProxyType(values)))
        ordered = {c.header: _as_value(totals[c.header], c.decimal)
                   for c in columns if c.header in totals}
        sections.append(FilledSection(section.id, section.name, tuple(rows),
                                      MappingProxyType(ordered)))
    return FilledReturn(form, campaign, period, body_id, body_name, columns, tuple(sections))


def subtree(definition: Definition, body_id: str) -> set[str]:
    """``body_id`` and every body under it (cases a province's bureaus handled count too)."""
    seen, todo = {body_id}, [body_id]
    while todo:
        for child in definition.bodies.children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def return_form(definition: Definition, form_id: str | None = None) -> ReturnForm:
    """The campaign's return (the only one, or the one named); a :class:`ReportError` if none."""
    forms = definition.campaign.returns
    cid = definition.campaign.id
    if not forms:
        raise ReportError(f"专项“{cid}”没有定义统计表（returns），无法生成统计报表")
    if form_id is None:
        return forms[0]
    found = next((r for r in forms if r.id == form_id), None)
    if found is None:
        raise ReportError(f"专项“{cid}”没有统计表“{form_id}”；可用："
                          + "、".join(r.id for r in forms))
    return found


def compute(store: Store, definition: Definition, *, period: Period | None = None,
            body: str | None = None, form_id: str | None = None) -> FilledReturn:
    """Fill the campaign's return from its cases (one aggregate query)."""
    form = return_form(definition, form_id)
    cid = definition.campaign.id
    bodies = None
    name = None
    if body is not None:
        if body not in definition.bodies:
            raise ReportError(f"专项“{cid}”的单位名录中没有“{body}”")
        bodies = subtree(definition, body)
        name = definition.bodies[body].name
    query = figures_query(form, cid, period, bodies)
    with store.engine.connect() as conn:
        figures = list(conn.execute(query).one())
    return fill(form, figures, campaign=cid, period=period, body_id=body, body_name=name,
                definition=definition)
