"""One cell's text or Excel value, converted to a typed field value, or refused with the
reason in Chinese (:class:`_Invalid`). Pure functions of the cell and its column, so the row
parser may remember a result per distinct cell text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.intake.headers import Column
from engine.spec.model import FIRST_YEAR, LAST_YEAR

MAX_INTEGER = 2_147_483_647
"""Counts above this are typing mistakes, and would overflow a database integer."""
MAX_AMOUNT = Decimal("1e14")
"""Amounts (万元) from here up do not fit the columns (``Numeric(18, 4)``): typing mistakes."""
PROVINCES = frozenset(re.findall("..", "11121314152122233132333435363741424344454650515253546162"
                                       "636465718182"))
"""First two digits of a GB/T 2260 code; anything else is not a Chinese division."""

_TRUE = frozenset({"是", "有", "对", "true", "t", "yes", "y", "1", "√", "✓", "✔"})
_FALSE = frozenset({"否", "无", "没有", "false", "f", "no", "n", "0", "×", "✗", "✘"})
_NUMBER = re.compile(r"([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
_DATE = re.compile(r"(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日?|(\d\d)(\d\d))"
                   r"(?:[ T]\d{1,2}:\d\d(?::\d\d(?:\.\d+)?)?)?")
_COUNT_UNITS = "件人个起户家名"


class _Invalid(Exception):
    """A cell's value does not fit its column; the argument is the Chinese reason."""


def _shown(raw: object) -> str:
    s = str(raw)
    return s if len(s) <= 30 else s[:30] + "…"


def _nfkc(raw: object) -> str:
    s = str(raw)
    if s.isascii():  # NFKC leaves ASCII as it is
        return s.strip()
    return unicodedata.normalize("NFKC", s).strip()


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
    if col.scale is not None:
        value *= col.scale
    if value >= MAX_AMOUNT:  # as stored (万元): a larger one would fail the whole import
        raise _Invalid(f"数值“{_shown(raw)}”过大")
    return value


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


def _too_long(text: str, limit: int) -> str:
    return f"内容过长：{len(text)} 字，上限 {limit} 字"


Converter = Callable[[object, Column], Any]
_CONVERTERS: dict[str, Converter] = {"integer": _integer, "decimal": _decimal, "boolean": _boolean,
                                     "date": _date, "division": _division}
