"""Spreadsheets staff fill in, turned into validated typed lead and case rows; and exports.

Pure: nothing here touches the database. The store takes the :class:`Accepted` rows an
:class:`Intake` yields and inserts them in one transaction, keyed by ``natural_key``; the
:class:`Rejected` rows go back to staff through :func:`write_rejects`. Nothing prints: the CLI
passes ``on_progress`` and draws its own progress bar.

Typical use::

    with Intake("leads.xlsx", "lead", extra_fields=campaign.lifecycles.lead.fields) as intake:
        for result in intake:
            ...  # Accepted -> store, Rejected -> collect
        intake.encoding, intake.warnings
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType

from engine.intake.export import neutralise, record_table, write_csv, write_rejects, write_xlsx
from engine.intake.headers import (
    HeaderMap,
    RecordKind,
    apply_override,
    default_mapping,
    load_override,
    normalise_header,
)
from engine.intake.readers import DEFAULT_MAX_BYTES, IntakeError, Table, iter_rows, open_table
from engine.intake.rows import (
    IDENTITY,
    Accepted,
    Problem,
    Rejected,
    RowParser,
    natural_key,
    parse_row,
)
from engine.spec.model import FieldDef

ProgressCallback = Callable[[int, float | None], None]
"""Called with (rows read so far, fraction of the file read or None if unknown)."""


TITLE_ROWS = 5
"""Rows above the header a file may hold (a title, the sender and date) when the header row is
found rather than given."""
_NOT_A_HEADER = frozenset({"no-identity-columns", "no-header"})
_TRIAL_ONLY = frozenset({"duplicate-header"})
"""Errors that, below the first row, show only that the row tried is not the header."""


def _check_identity_columns(parser: RowParser, table: Table) -> None:
    """Refuse a file no row of which could be recognised, before reading its rows."""
    present = {c.column.field.name for c in parser.plan(table.headers)}
    identity, fields = IDENTITY[parser.kind], parser.mapping.fields
    if "external_id" in present or (identity and set(identity) <= present):
        return
    need = fields["external_id"].label
    if identity:
        need += f"，或同时有{'、'.join(fields[n].label for n in identity)}"
    raise IntakeError("no-identity-columns",
                      f"表中没有可识别记录的列：需要{need}；表头是否不在第 "
                      f"{table.header_row} 行？",
                      f"no column identifies the records: need {need}")


def _open(path: str | os.PathLike[str], mapping: HeaderMap, sheet: str | None,
          header_row: int | None, max_bytes: int) -> tuple[RowParser, Table]:
    """The file opened at its header row, and a parser for it.

    With ``header_row=None`` the header is the first row or, when the first row names no
    column that identifies a record (a government form's title, "附件1：……汇总表"), the first
    of the next few rows that does; the rows above it are noted as skipped. If none does, the
    error is the first row's."""
    rows = [header_row] if header_row is not None else list(range(1, TITLE_ROWS + 2))
    first: IntakeError | None = None
    for number in rows:
        parser = RowParser(mapping)
        try:
            table = open_table(path, sheet=sheet, header_row=number, max_bytes=max_bytes)
        except IntakeError as exc:  # a blank row, past the end of the file, or data
            # a data row tried as the header may repeat a value ("0" twice): not a header
            not_header = exc.code in _NOT_A_HEADER or (number > 1 and exc.code in _TRIAL_ONLY)
            if header_row is None and not_header and number < rows[-1]:
                first = first or exc
                continue
            if first is not None and (not_header or exc.code == "empty-file"):
                raise first from None
            raise
        try:
            _check_identity_columns(parser, table)
        except IntakeError as exc:
            table.close()
            if number == rows[-1] or exc.code not in _NOT_A_HEADER:
                raise (first or exc) from None
            first = first or exc
            continue
        except BaseException:
            table.close()
            raise
        if number > 1 and header_row is None:
            above = "第 1 行" if number == 2 else f"第 1—{number - 1} 行"
            table.warnings.append(f"表头在第 {number} 行；{above}视为标题，未导入")
        return parser, table
    raise AssertionError("unreachable")  # pragma: no cover


class Intake:
    """One file being imported: iterate it for :class:`Accepted` and :class:`Rejected` rows.

    Opening reads only the header, so a wrong file (bad encoding, no identifying column, two
    columns for one field) fails before the store starts its transaction. Rows stream; a row
    whose ``natural_key`` repeats an earlier row of the same file is rejected, pointing at that
    row, because the store would otherwise silently keep only one of them.
    """

    def __init__(self, path: str | os.PathLike[str], kind: str, *,
                 mapping: HeaderMap | None = None, extra_fields: Iterable[FieldDef] = (),
                 override: str | os.PathLike[str] | Mapping[str, object] | None = None,
                 sheet: str | None = None, header_row: int | None = 1,
                 max_bytes: int = DEFAULT_MAX_BYTES, on_progress: ProgressCallback | None = None,
                 progress_every: int = 1000, detect_duplicates: bool = True) -> None:
        if mapping is None:
            mapping = default_mapping(kind, extra_fields, override)
        else:
            mapping = mapping.for_kind(kind, extra_fields)
            if override is not None:
                table = override if isinstance(override, Mapping) else load_override(override)
                mapping = apply_override(mapping, table)
        self.parser, self.table = _open(path, mapping, sheet, header_row, max_bytes)
        self.kind: RecordKind = self.parser.kind
        self.on_progress, self.progress_every = on_progress, max(progress_every, 1)
        self.detect_duplicates = detect_duplicates
        self.accepted = self.rejected = 0

    @property
    def encoding(self) -> str | None:
        """The CSV encoding actually used (``utf-8``, ``utf-8-sig``, ``gb18030``); None for XLSX."""
        return self.table.encoding

    @property
    def headers(self) -> tuple[str, ...]:
        return self.table.headers

    @property
    def unknown_columns(self) -> list[str]:
        return list(self.parser.unknown_columns)

    @property
    def warnings(self) -> list[str]:
        """Chinese notes for staff: ignored columns, data in columns without a header."""
        return [*self.parser.warnings, *self.table.warnings]

    def __iter__(self) -> Iterator[Accepted | Rejected]:
        first_row: dict[str, int] = {}  # record's key -> first row; ~100 MB per 1M rows
        key_column = self._key_column()
        count, every, on_progress = 0, self.progress_every, self.on_progress
        detect = self.detect_duplicates
        parse = self.parser.compiled(self.table.headers, by_position=True)
        try:
            for number, cells in self.table.records():  # cells in the order of the headers
                result = parse(number, cells)
                if detect and result.__class__ is Accepted:
                    key = result.natural_key  # type: ignore[union-attr]
                    values = result.values  # type: ignore[union-attr]
                    # senders number their own records: two provinces may both send a
                    # "001", and the store keys a numbered record by its sender as well
                    seen = f"{values.get('body') or '-'}\x1f{key}" \
                        if values.get("external_id") else key
                    earlier = first_row.setdefault(seen, number)
                    if earlier != number:
                        reason = f"与第 {earlier} 行是同一条记录（{key}）"
                        if not values.get("external_id"):
                            reason = (f"与第 {earlier} 行是同一条记录"
                                      "（权利人、商标、涉嫌侵权人相同）")
                        result = Rejected(self.kind, number, (Problem(key_column, reason),))
                if result.__class__ is Accepted:
                    self.accepted += 1
                else:
                    self.rejected += 1
                count += 1
                if on_progress is not None and count % every == 0:
                    on_progress(count, self.table.fraction())
                yield result
            if on_progress is not None:
                on_progress(count, 1.0)
        finally:
            self.table.close()

    def _key_column(self) -> str:
        return next((h for name in ("external_id", *IDENTITY[self.kind])
                     if (h := self._header_of(name)) is not None),
                    self.parser.mapping.fields["external_id"].label)

    def _header_of(self, field_name: str) -> str | None:
        return next((cell.header for cell in self.parser.plan(self.table.headers)
                     if cell.column.field.name == field_name), None)

    def column_of(self, field_name: str) -> str:
        """The header this file gives ``field_name`` (for a problem's column), else its label."""
        found = self._header_of(field_name)
        return found if found is not None else self.parser.mapping.fields[field_name].label

    def close(self) -> None:
        self.table.close()

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass
class IntakeResult:
    """A whole file read into memory: for previews, tests and files of modest size."""

    kind: RecordKind
    encoding: str | None
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)


def read_file(path: str | os.PathLike[str], kind: str, **options: object) -> IntakeResult:
    """Read all of ``path``; ``options`` are those of :class:`Intake`."""
    with Intake(path, kind, **options) as intake:  # type: ignore[arg-type]
        result = IntakeResult(intake.kind, intake.encoding)
        for row in intake:
            (result.accepted if isinstance(row, Accepted) else result.rejected).append(row)
        result.warnings, result.unknown_columns = intake.warnings, intake.unknown_columns
    return result


__all__ = [
    "DEFAULT_MAX_BYTES",
    "Accepted",
    "HeaderMap",
    "Intake",
    "IntakeError",
    "IntakeResult",
    "Problem",
    "ProgressCallback",
    "RecordKind",
    "Rejected",
    "RowParser",
    "apply_override",
    "default_mapping",
    "iter_rows",
    "load_override",
    "natural_key",
    "neutralise",
    "normalise_header",
    "open_table",
    "parse_row",
    "read_file",
    "record_table",
    "write_csv",
    "write_rejects",
    "write_xlsx",
]
