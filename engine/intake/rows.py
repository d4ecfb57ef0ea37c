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
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.intake.cells import (
    _CONVERTERS,
    _Invalid,
    _nfkc,
    _shown,
    _too_long,
    as_text,
)
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
from engine.spec.model import FieldDef

MAX_STRING, MAX_TEXT = 500, 5000
"""Length limits in characters: a name or contact line, and a free-text summary."""
MAX_NUMBER, MAX_KEY = 100, 200
"""A record's own number, and the identity made of it (the ``external_id`` and ``natural_key``
columns of leads and cases): longer ones would be refused by PostgreSQL at the insert, with
the whole import, and silently kept by SQLite."""
IDENTITY: Mapping[str, tuple[str, ...]] = {"lead": ("right_holder", "mark", "suspected_infringer"),
                                           "case": ()}
"""The fields that recognise a record that has no number of its own."""


@dataclass(frozen=True, slots=True)
class Problem:
    column: str  # the header as the file spells it
    reason: str  # Chinese, for staff


@dataclass(frozen=True, slots=True, init=False)
class Accepted:
    """A row that became a record: only the fields that were filled in, typed."""

    kind: RecordKind
    row: int
    values: Mapping[str, Any]
    natural_key: str

    def __init__(self, kind: RecordKind, row: int, values: Mapping[str, Any],
                 natural_key: str) -> None:
        # through the slots themselves: a frozen dataclass's own __init__ calls
        # object.__setattr__ per field, which made this a fifth of a row's parse
        _SET_KIND(self, kind)
        _SET_ROW(self, row)
        _SET_VALUES(self, values)
        _SET_KEY(self, natural_key)


_SET_KIND, _SET_ROW, _SET_VALUES, _SET_KEY = (
    Accepted.__dict__[name].__set__ for name in ("kind", "row", "values", "natural_key"))


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


_KEY_TEXTS: dict[str, str] = {}
"""Memo of :func:`_key_text` for text cells: names repeat across a file's rows."""
MEMO_SIZE = 20_000
_MEMO_CELLS = frozenset({int, datetime, date})
"""Cell types (from XLSX) whose conversion is remembered like a text's: equal values of one
type convert alike (float is left out: -0.0 == 0.0)."""
"""Entries a memo keeps before it starts afresh (bounds memory on a file of distinct values)."""


def _key_text(value: object) -> str:
    if value is None:
        return ""
    if value.__class__ is str:
        found = _KEY_TEXTS.get(value)  # type: ignore[call-overload]
        if found is None:
            if len(_KEY_TEXTS) >= MEMO_SIZE:
                _KEY_TEXTS.clear()
            found = _KEY_TEXTS[value] = _fold(value)  # type: ignore[index]
        return found
    return _fold(value)


def _fold(value: object) -> str:
    s = unicodedata.normalize("NFKC", as_text(value)).casefold()
    return "".join(ch for ch in s if not (ch.isspace() or unicodedata.category(ch)[0] in "PS"))


@dataclass(frozen=True, slots=True)
class _Refusal:
    """A memoised :class:`_Invalid`: the reason a cell's text was refused."""

    reason: str


@dataclass(frozen=True, slots=True)
class _Cell:
    """One column of a header plan, with everything parsing a cell needs looked up once."""

    header: str
    column: Column
    convert: Callable[[object], Any]
    name: str = ""
    limit: int | None = None  # for text fields: the length limit, checked inline
    memo: dict[str, Any] | None = None  # for typed fields: text cell -> value or _Refusal


Step = tuple[Any, str, str, int | None, dict[str, Any] | None, Callable[[object], Any], bool]
"""One column of a plan, flat: where the row holds its cell (the header, or the column's position
among the table's headers), the header, field name, text length limit, memo, converter, and
whether the field joins several columns (the only ones that can appear twice in a plan)."""


class RowParser:
    """Parses rows of one record kind; remembers, per header set, which column feeds what.

    Per header set, each column's converter is chosen once. A text cell of a text field is only
    stripped and measured; a text cell of a typed field (date, number, code, enum) is converted
    once per distinct text and remembered, since a file repeats its dates and codes.
    """

    def __init__(self, mapping: HeaderMap, *, max_string: int = MAX_STRING,
                 max_text: int = MAX_TEXT) -> None:
        self.mapping = mapping
        self.kind: RecordKind = mapping.kind
        self.max_string, self.max_text = max_string, max_text
        self.unknown_columns: list[str] = []
        self.warnings: list[str] = []
        self._plans: dict[tuple[str, ...], list[_Cell]] = {}
        self._compiled: dict[tuple[tuple[str, ...], bool],
                             Callable[[int, Any], Accepted | Rejected]] = {}

    def _limit(self, column: Column) -> int | None:
        ftype = column.field.type
        if ftype == "enum" or ftype in _CONVERTERS:
            return None
        if column.field.name == "external_id":
            return min(self.max_string, MAX_NUMBER)
        return self.max_text if ftype == "text" else self.max_string

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
        limit = self._limit(column)
        assert limit is not None

        def text(raw: object) -> str:
            s = as_text(raw)
            if len(s) > limit:
                raise _Invalid(_too_long(s, limit))
            return s
        return text

    def _cell(self, header: str, column: Column) -> _Cell:
        limit = self._limit(column)
        return _Cell(header, column, self._converter(column), column.field.name, limit,
                     None if limit is not None else {})

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
            cells.append(self._cell(header, column))
        self._plans[key] = cells
        return cells

    def steps(self, headers: Iterable[str], *, by_position: bool = False) -> list[Step]:
        """The plan of ``headers`` as flat tuples, for :meth:`parse_steps`: a cell is found by
        its header, or ``by_position`` in a row lined up with ``headers``."""
        key = tuple(headers)
        at = {h: i for i, h in enumerate(key)}
        return [(at[c.header] if by_position else c.header, c.header, c.name, c.limit, c.memo,
                 c.convert, c.name in JOINED_FIELDS) for c in self.plan(key)]

    def parse(self, row_number: int, raw: Mapping[str, object]) -> Accepted | Rejected:
        return self.parse_steps(row_number, raw, self.steps(raw))

    def parse_steps(self, row_number: int, raw: Mapping[str, object] | Sequence[object],
                    steps: list[Step]) -> Accepted | Rejected:
        """:meth:`parse` with the plan in hand (a file's rows share headers): ``raw`` is
        ``{header: cell}`` for ``steps(headers)``, or the cells in header order for
        ``steps(headers, by_position=True)``. A file's rows go through :meth:`compiled`,
        which gives the same answers faster (a property test holds them equal)."""
        values: dict[str, Any] = {}
        bad: list[Bad] | None = None
        for step in steps:
            bad = fill_cell(values, bad, step, raw[step[0]])  # type: ignore[index]
        return self.finish(row_number, values, bad, steps)

    def compiled(self, headers: Iterable[str], *, by_position: bool = False,
                 ) -> Callable[[int, Any], Accepted | Rejected]:
        """:meth:`parse_steps` for one header set, as straight-line code (see
        :mod:`engine.intake.compiled`): ``compiled(headers)(row_number, raw)``."""
        from engine.intake.compiled import compile_steps

        key = (tuple(headers), by_position)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = compile_steps(
                self.kind, self.steps(key[0], by_position=by_position), self.finish)
        return found

    def finish(self, row_number: int, values: dict[str, Any], bad: list[Bad] | None,
               steps: list[Step]) -> Accepted | Rejected:
        """The row's identity checked and its result built, once its cells are in ``values``
        (and the refused ones in ``bad``)."""
        problems: list[Problem] | None = None
        invalid: set[str] = set()
        if bad is not None:
            problems = [Problem(header, reason) for header, reason, _ in bad]
            invalid = {name for _, _, name in bad}
        key: str | None = None
        external = values.get("external_id")
        if external is not None:
            if external.__class__ is str and external.isascii():  # _nfkc of it, and again
                values["external_id"] = external = external.strip()
                key = external
            else:
                values["external_id"] = external = _nfkc(external)
                key = _nfkc(external)
            # what natural_key() returns for it, without its generic checks
            if len(key) > MAX_KEY:  # NFKC can widen a character into several (㍿: 株式会社)
                if problems is None:
                    problems = []
                header = next(step[1] for step in steps if step[2] == "external_id")
                problems.append(Problem(header,
                                        f"编号规范化后过长：{len(key)} 字，上限 {MAX_KEY} 字"))
                invalid.add("external_id")
        if not external:
            if problems is None:
                problems = []
            key = self._identity(values, steps, problems, invalid)
        if problems:
            return Rejected(self.kind, row_number, tuple(problems))
        assert key is not None
        return Accepted(self.kind, row_number, values, key)

    def _identity(self, values: Mapping[str, Any], steps: list[Step],
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
        header = next((step[1] for step in steps if step[2] == "external_id"), label)
        missing = [self.mapping.fields[n].label for n in IDENTITY[self.kind] if n not in values]
        reason = f"缺少{label}"
        if missing:
            reason += f"，且未填写{'、'.join(missing)}，无法识别这条记录"
        problems.append(Problem(header, reason))
        return None


Bad = tuple[str, str, str]
"""A refused cell: its header, the Chinese reason, and the field it was for."""


NUL_REASON = "含有空字符（NUL），多为文件损坏或导出出错；请删除该字符后重新导入"


def fill_cell(values: dict[str, Any], bad: list[Bad] | None, step: Step,
              value: object) -> list[Bad] | None:
    """One cell of a row into ``values`` by its ``step``; a refusal is appended to ``bad``
    (a list made on the first one), which is returned."""
    _, header, name, limit, memo, convert, joined = step
    if value.__class__ is str:
        text = value.strip()  # type: ignore[attr-defined]
        if not text:
            return bad
        if limit is not None:  # a text field: the stripped text is the value
            if "\x00" in text:  # PostgreSQL refuses it, and it fails the whole import there
                typed, key = _Refusal(NUL_REASON), None
            elif joined and name in values:  # held to the limit once joined, as it is stored
                text = f"{values[name]}；{text}"
                if len(text) <= limit:
                    values[name] = text
                    return bad
                typed, key = _Refusal(f"与前面同一字段的列合并后{_too_long(text, limit)}"), None
            elif len(text) <= limit:
                values[name] = text
                return bad
            else:
                typed, key = _Refusal(_too_long(text, limit)), None
        else:  # a typed field: converted once per distinct text
            typed, key = _Cell, value
    elif value is None or (isinstance(value, str) and not value.strip()):
        return bad
    else:  # from a workbook: dates and codes repeat like texts (keyed by type)
        typed = _Cell
        key = (value.__class__, value) if value.__class__ in _MEMO_CELLS else None
    if typed is _Cell:
        found = memo.get(key, _Cell) if memo is not None and key is not None \
            else _Cell  # type: ignore[call-overload]
        if found is _Cell:
            try:
                found = convert(value)
            except _Invalid as exc:
                found = _Refusal(str(exc))
            if memo is not None and key is not None:
                if len(memo) >= MEMO_SIZE:
                    memo.clear()
                memo[key] = found  # type: ignore[index]
        typed = found
    if typed.__class__ is _Refusal:
        if bad is None:
            bad = []
        bad.append((header, typed.reason, name))
    elif joined and name in values:
        values[name] = f"{values[name]}；{typed}"
    else:
        values[name] = typed
    return bad


def parse_row(record_kind: str, row_number: int, raw: Mapping[str, object],
              mapping: HeaderMap | None = None,
              extra_fields: Iterable[FieldDef] = ()) -> Accepted | Rejected:
    """Parse one row ``{header: raw value}``; for many rows keep a :class:`RowParser` instead."""
    if mapping is None:
        mapping = default_mapping(record_kind, extra_fields)
    else:
        mapping = mapping.for_kind(record_kind, extra_fields)
    return RowParser(mapping).parse(row_number, raw)
