"""Building blocks of the model: scalar kinds, choices, the field helper and the base node."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, NewType

from engine.spec.diagnostics import Pos

# --- scalar kinds with a meaning beyond their Python type -------------------------------------
Id = NewType("Id", str)
"""An identifier: lowercase letters, digits and ``_``, dotted segments allowed (``suzhou_aic.trademark``)."""
Ref = NewType("Ref", str)
"""A reference to an id defined elsewhere; checked by the rules, so a typo fails at load time."""
Month = NewType("Month", str)
"""A calendar month, ``YYYY-MM``."""
Division = NewType("Division", str)
"""A six-digit GB/T 2260 administrative division code."""
Citation = NewType("Citation", str)
"""A paragraph of the notice, e.g. ``二、（二）1``; never the notice's sentences themselves."""


class AnyScalar:
    """Marker type: any YAML scalar (text, number, boolean or date)."""


FIRST_YEAR, LAST_YEAR = 1900, 2199
"""Dates outside these years are typing mistakes, and would overflow date arithmetic."""

PATTERNS: dict[object, str] = {
    Id: r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$",
    Ref: r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$",
    Month: r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$",
    Division: r"^[0-9]{6}$",
}

Level = Literal["national", "province", "city", "county", "department"]
BodyKind = Literal[
    "market_regulator", "leading_group_office", "ministry", "police", "procuratorate", "court",
    "customs", "ip_office", "trademark_office", "agriculture", "commerce", "press_publication",
    "forestry", "postal", "department", "other",
]
FocusCategory = Literal[
    "well_known_mark", "geographical_indication", "foreign_related_mark", "time_honoured_brand",
]
ReportKind = Literal[
    "lead_list", "interim_summary", "annual_summary", "final_report", "statistics_return",
    "major_cases", "implementation_plan", "other",
]
LetterKind = Literal["reminder", "overdue", "escalation", "supervision", "forwarding", "phase_notice"]
FieldType = Literal["string", "text", "integer", "decimal", "boolean", "date", "division", "enum"]


def f(zh: str, *, key: str | None = None, default: Any = dataclasses.MISSING,
      factory: Any = dataclasses.MISSING, one_or_many: bool = False,
      minimum: int | None = None, maximum: int | None = None) -> Any:
    """A model field with its Chinese description and how it is spelt in YAML.

    ``one_or_many`` lets a single item stand where a list is expected (``from: beijing_amr``).
    """
    meta = {"zh": zh, "key": key, "one_or_many": one_or_many, "minimum": minimum,
            "maximum": maximum}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _spans() -> Any:
    return dataclasses.field(default_factory=lambda: MappingProxyType({}), compare=False,
                             repr=False, metadata={"internal": True})


def _pos() -> Any:
    return dataclasses.field(default=Pos("<built>"), compare=False, repr=False,
                             metadata={"internal": True})


model = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)


@model
class Node:
    """Base of every definition object: where it was written."""

    pos: Pos = _pos()
    spans: Mapping[str, Pos] = _spans()

    def at(self, name: str, index: int | None = None) -> Pos:
        """Where the value of field ``name`` (or its ``index``-th item) was written."""
        key = name if index is None else f"{name}[{index}]"
        return self.spans.get(key) or self.spans.get(name) or self.pos



def yaml_key(fld: dataclasses.Field[Any]) -> str:
    """How a field is spelt in YAML (``from_`` is written ``from``)."""
    return fld.metadata.get("key") or fld.name


def public_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [fl for fl in dataclasses.fields(cls) if not fl.metadata.get("internal")]
