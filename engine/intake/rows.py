"""One spreadsheet row in, one typed record (or every reason it was refused) out.

Intake accepts incomplete leads on purpose: whether a lead is complete enough to report up is for
the lifecycle guards to decide later (sourcing_2017 三、（二） lists what a complete lead holds),
and refusing a half-filled row here would only make staff re-type it. What intake does insist on
is that each value that *is* filled in means something (a real date, a six-digit division code, a
known category) and that a record can be recognised again: a lead needs its number or its
right holder + mark + suspected infringer, a case needs its number. All of a row's problems are
reported together so staff fix a row once.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.intake.headers import (
    JOINED_FIELDS,
    VALUE_LABELS,
    Column,
    HeaderMap,
    RecordKind,
    default_mapping,
    normalise_header,
)
from engine.intake.readers import IntakeError
from engine.spec.model import FIRST_YEAR, LAST_YEAR, FieldDef

MAX_STRING, MAX_TEXT = 500, 5000
"""Length limits in characters: a name or contact line, and a free-text summary."""
MAX_INTEGER = 2_147_483_647
"""Counts above this are typing mistakes, and would overflow a database integer."""
IDENTITY: Mapping[str, tuple[str, ...]] = {"lead": ("right_holder", "mark", "suspected_infringer"),
                                           "case": ()}
"""The fields that recognise a record that has no number of its own."""
PROVINCES = frozenset(re.findall("..", "11121314152122233132333435363741424344454650515253546162"
                                       "636465718182"))
"""First two digits of a GB/T 2260 code; anything else is not a Chinese division."""

_TRUE = frozenset({"是", "有", "对", "true", "t", "yes", "y", "1", "√", "✓", "✔"})
_FALSE = frozenset({"否", "无", "没有", "false", "f", "no", "n", "0", "×", "✗", "✘"})
_NUMBER = re.compile(r"([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
_DATE = re.compile(r"(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日?|(\d\d)(\d\d))"
                   r"(?:[ T]\d{1,2}:\d\d(?::\d\d(?:\.\d+)?)?)?")
_COUNT_UNITS = "件人个起户家名"


@dataclass(frozen=True, slots=True)
class Problem:
    column: str  # the header as the file spells it
    reason: str  # Chinese, for staff


@dataclass(frozen=True, slots=True)
class Accepted:
    """A row that became a record: only the fields that were filled in, typed."""

    kind: RecordKind
    row: int
    values: Mapping[str, Any]
    natural_key: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row refused, with every problem found in it; ``column``/``reason`` are the first."""

    kind: RecordKind
    row: int
    problems: tuple[Problem, ...]

    @property
    def column(self) -> str:
        return self.problems[0].column

    @property
    def reason(self) -> str:
        return self.problems[0].reason


class _Invalid(Exception):
    """A cell's value does not fit its column; the argument is the Chinese reason."""


def _shown(raw: object) -> str:
    s = str(raw)
    return s if len(s) <= 30 else s[:30] + "…"


def _nfkc(raw: object) -> str:
    return unicodedata.normalize("NFKC", str(raw)).strip()


def as_text(raw: object) -> str:
    """A cell as text: Excel numbers without a spurious ``.0``, dates without midnight."""
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, bool):
        return "是" if raw else "否"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == datetime.min.time() else str(raw)
    return str(raw).strip()


def _number(raw: object, what: str) -> Decimal:
    """Cell -> Decimal: Excel numbers, ``1,234.5``, full-width digits; never NaN or negative."""
    if isinstance(raw, bool | date):
        raise _Invalid(f"应为{what}，不能是“{_shown(as_text(raw))}”")
    if isinstance(raw, int | float):
        value = Decimal(str(raw))
        if not value.is_finite():
            raise _Invalid(f"应为{what}")
    else:
        m = _NUMBER.fullmatch(_nfkc(raw).replace("¥", "", 1).strip())
        if not m:
            raise _Invalid(f"“{_shown(raw)}”不是{what}")
        value = Decimal(m[1] + m[2].replace(",", "") + (f".{m[3]}" if m[3] else ""))
    if value < 0:
        raise _Invalid(f"不能为负数（“{_shown(raw)}”）")
    return value


def _integer(raw: object, col: Column) -> int:
    if isinstance(raw, str):
        raw = _nfkc(raw).rstrip(_COUNT_UNITS).strip()
    value = _number(raw, "整数")
    if value != value.to_integral_value():
        raise _Invalid(f"“{_shown(raw)}”不是整数")
    if value > MAX_INTEGER:
        raise _Invalid(f"数值“{_shown(raw)}”过大")
    return int(value)


def _decimal(raw: object, col: Column) -> Decimal:
    if isinstance(raw, str):
        text, yuan_column = _nfkc(raw), col.scale is not None
        if text.endswith("万元"):
            if yuan_column:
                raise _Invalid(f"本列以元计，“{_shown(raw)}”却写了万元")
            text = text[:-2]
        elif text.endswith("元"):
            if not yuan_column and "万元" in col.field.label:
                raise _Invalid(f"本列以万元计，“{_shown(raw)}”写的是元；请换算为万元，"
                               "或把列名改为以“（元）”结尾")
            text = text[:-1]
        raw = text
    value = _number(raw, "数字")
    if abs(value) >= Decimal("1e15"):
        raise _Invalid(f"数值“{_shown(raw)}”过大")
    return value * col.scale if col.scale is not None else value


def _boolean(raw: object, col: Column) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    word = _nfkc(raw).lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _Invalid(f"“{_shown(raw)}”不是是/否；可填：是、否、有、无、Y、N、1、0")


def _date(raw: object, col: Column) -> date:
    if isinstance(raw, datetime):
        day = raw.date()
    elif isinstance(raw, date):
        day = raw
    elif isinstance(raw, int | float) and not isinstance(raw, bool) and 1e7 <= raw < 1e8:
        return _date(as_text(raw), col)
    else:
        m = _DATE.fullmatch(_nfkc(raw)) if isinstance(raw, str) else None
        if not m:
            raise _Invalid(f"“{_shown(raw)}”不是日期；日期写作 2017-10-31 或 2017年10月31日")
        year, month, dom = int(m[1]), int(m[2] or m[4] or m[6]), int(m[3] or m[5] or m[7])
        try:
            day = date(year, month, dom)
        except ValueError:
            raise _Invalid(f"日期“{_shown(raw)}”不存在") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise _Invalid(f"日期“{_shown(raw)}”的年份不合理")
    return day


def _division(raw: object, col: Column) -> str:
    code = as_text(raw) if isinstance(raw, int | float) else _nfkc(raw)
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise _Invalid(f"行政区划代码“{_shown(raw)}”应为六位数字，如 320500")
    if code[:2] not in PROVINCES:
        raise _Invalid(f"行政区划代码“{code}”的前两位不是省级代码")
    return code


Converter = Callable[[object, Column], Any]
_CONVERTERS: dict[str, Converter] = {"integer": _integer, "decimal": _decimal, "boolean": _boolean,
                                     "date": _date, "division": _division}


def natural_key(kind: str, values: Mapping[str, Any]) -> str:
    """The record's identity across imports: its own number, else a hash of who/what/whom.

    Hashed fields are compared NFKC-normalised, case-folded and without spaces or punctuation,
    so re-typing ``某某（苏州）有限公司`` as ``某某(苏州)有限公司`` finds the same lead.
    """
    external = values.get("external_id")
    if external is not None and as_text(external):
        return _nfkc(as_text(external))
    parts = [_key_text(values.get(name)) for name in IDENTITY.get(kind, ())]
    if not parts or not all(parts):
        raise IntakeError("no-identity", "记录没有编号，也没有可识别它的字段，无法生成唯一标识",
                          f"the {kind} has no external_id and no identifying fields")
    digest = hashlib.sha256("\x1f".join([kind, *parts]).encode("utf-8")).hexdigest()
    return f"h:{digest[:32]}"


def _key_text(value: object) -> str:
    if value is None:
        return ""
    s = unicodedata.normalize("NFKC", as_text(value)).casefold()
    return "".join(ch for ch in s if not (ch.isspace() or unicodedata.category(ch)[0] in "PS"))


@dataclass(frozen=True, slots=True)
class _Cell:
    header: str
    column: Column
    convert: Callable[[object], Any]


class RowParser:
    """Parses rows of one record kind; remembers, per header set, which column feeds what."""

    def __init__(self, mapping: HeaderMap, *, max_string: int = MAX_STRING,
                 max_text: int = MAX_TEXT) -> None:
        self.mapping = mapping
        self.kind: RecordKind = mapping.kind
        self.max_string, self.max_text = max_string, max_text
        self.unknown_columns: list[str] = []
        self.warnings: list[str] = []
        self._plans: dict[tuple[str, ...], list[_Cell]] = {}

    def _converter(self, column: Column) -> Callable[[object], Any]:
        ftype = column.field.type
        if ftype == "enum":
            choices = column.field.choices
            table = {normalise_header(word): code for code in choices
                     for word in (code, *VALUE_LABELS.get(code, ()))}
            allowed = "、".join(f"{VALUE_LABELS[c][0]}（{c}）" if c in VALUE_LABELS else c
                               for c in choices)

            def enum(raw: object) -> str:
                code = table.get(normalise_header(as_text(raw)))
                if code is None:
                    raise _Invalid(f"“{_shown(raw)}”不是可选值；可填：{allowed}")
                return code
            return enum
        if ftype in _CONVERTERS:
            conv = _CONVERTERS[ftype]
            return lambda raw: conv(raw, column)
        limit = self.max_text if ftype == "text" else self.max_string

        def text(raw: object) -> str:
            s = as_text(raw)
            if len(s) > limit:
                raise _Invalid(f"内容过长：{len(s)} 字，上限 {limit} 字")
            return s
        return text

    def plan(self, headers: Iterable[str]) -> list[_Cell]:
        """Which of ``headers`` feed which field; unknown ones are noted once as warnings."""
        key = tuple(headers)
        if key in self._plans:
            return self._plans[key]
        cells: list[_Cell] = []
        seen: dict[str, str] = {}
        for header in key:
            column = self.mapping.lookup(header)
            if column is None:
                if not self.mapping.ignores(header) and header not in self.unknown_columns:
                    self.unknown_columns.append(header)
                    self.warnings.append(f"未识别的列“{header}”，已忽略（可在列名对照文件中指定）")
                continue
            name = column.field.name
            if name in seen and name not in JOINED_FIELDS:
                raise IntakeError(
                    "columns-clash",
                    f"列“{seen[name]}”和“{header}”都对应字段“{column.field.label}”；"
                    "请删除其中一列，或在列名对照文件中把其中一列设为 null",
                    f"columns '{seen[name]}' and '{header}' both map to field '{name}'")
            seen.setdefault(name, header)
            cells.append(_Cell(header, column, self._converter(column)))
        self._plans[key] = cells
        return cells

    def parse(self, row_number: int, raw: Mapping[str, object]) -> Accepted | Rejected:
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        invalid: set[str] = set()
        for cell in self.plan(raw):
            value = raw[cell.header]
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                typed = cell.convert(value)
            except _Invalid as exc:
                problems.append(Problem(cell.header, str(exc)))
                invalid.add(cell.column.field.name)
                continue
            name = cell.column.field.name
            values[name] = f"{values[name]}；{typed}" if name in values else typed
        if "external_id" in values:
            values["external_id"] = _nfkc(values["external_id"])
        key = self._identity(values, raw, problems, invalid)
        if problems:
            return Rejected(self.kind, row_number, tuple(problems))
        assert key is not None
        return Accepted(self.kind, row_number, values, key)

    def _identity(self, values: Mapping[str, Any], raw: Mapping[str, object],
                  problems: list[Problem], invalid: set[str]) -> str | None:
        """The natural key, or a problem saying what is missing to recognise the record.

        A number or name that was filled in but refused is already a problem; saying it is
        missing as well would only confuse.
        """
        try:
            return natural_key(self.kind, values)
        except IntakeError:
            if invalid & {"external_id", *IDENTITY[self.kind]}:
                return None
        label = self.mapping.fields["external_id"].label
        header = next((c.header for c in self.plan(raw) if c.column.field.name == "external_id"),
                      label)
        missing = [self.mapping.fields[n].label for n in IDENTITY[self.kind] if n not in values]
        reason = f"缺少{label}"
        if missing:
            reason += f"，且未填写{'、'.join(missing)}，无法识别这条记录"
        problems.append(Problem(header, reason))
        return None


def parse_row(record_kind: str, row_number: int, raw: Mapping[str, object],
              mapping: HeaderMap | None = None,
              extra_fields: Iterable[FieldDef] = ()) -> Accepted | Rejected:
    """Parse one row ``{header: raw value}``; for many rows keep a :class:`RowParser` instead."""
    if mapping is None:
        mapping = default_mapping(record_kind, extra_fields)
    else:
        mapping = mapping.for_kind(record_kind, extra_fields)
    return RowParser(mapping).parse(row_number, raw)
