"""Batches of new leads or cases and their ``create`` events, written the fastest way each
database allows, storing what SQLAlchemy Core would.

An import of a million rows is a few hundred batches. SQLAlchemy Core's insert with RETURNING
is the portable reference (``records._add_core``); these paths skip its per-statement work:

- :class:`SqliteBulk`: one prebuilt ``INSERT`` to the driver's executemany;
- :class:`PostgresBulk` (psycopg): ``COPY`` into a temporary table, then one statement that
  moves the rows on, skipping stored keys, and writes their events. Core's one ``VALUES``
  list of 5,000 × 24 placeholders had psycopg re-parse a megabyte of SQL per batch: a
  50,000-row CSV imported at 4,100 rows/s, and at 14,700 this way.

Both convert each value with the column type's own bind processor first, so what they store is
what Core stores (tests/test_import_speed_paths.py compares the paths row by row) for the
values intake produces: text, whole numbers, ``Decimal``, ``bool``, dates. ``COPY`` sends text
where Core sends typed parameters, so a caller's float or bool given for a number column would
round or be refused differently on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table

from engine.store.db import bind_converter, copy_path, remembering, stage, staged_name
from engine.store.tables import events

if TYPE_CHECKING:
    from engine.store.records import NewRecord

FIXED = frozenset({"id", "campaign_id", "definition_id", "natural_key", "external_id", "state",
                   "body_id", "extra", "state_since", "created_at", "updated_at", "row_version",
                   "reported_by"})
"""A record's columns that are not field values: identity, lifecycle and bookkeeping."""

LATER = frozenset({"reported_by"})
"""Bookkeeping columns a record gets later in its life: an insert leaves them NULL."""

def jsonable(value: Any) -> Any:
    """A campaign-declared field's value as it is kept in the ``extra`` JSON column."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def value_columns(table: Table) -> list[str]:
    """The columns of ``table`` that hold a record's built-in field values."""
    return [c for c in table.c.keys() if c not in FIXED]  # noqa: SIM118 - names, not Columns


class _Bulk:
    """What both paths share: each record as a tuple of stored values, in :attr:`names` order,
    and which keys of a batch were duplicates."""

    def __init__(self, conn: Connection, table: Table, fixed: Mapping[str, Any],
                 event: Mapping[str, Any]) -> None:
        dialect = conn.dialect
        self.conn, self.table = conn, table

        def processor(t: Table, name: str) -> Callable[[Any], Any] | None:
            return bind_converter(t, name, dialect)

        def stored(t: Table, name: str, value: Any) -> Any:
            proc = processor(t, name)
            return proc(value) if proc is not None else value

        self.value_names = value_columns(table)
        head = ["natural_key", "external_id", "body_id"]
        tail = [n for n in table.c.keys()  # noqa: SIM118 - names, not Columns
                if n not in {"id", "extra", *head, *self.value_names, *LATER}]
        self.names = [*head, *self.value_names, "extra", *tail]  # the INSERT's column order
        self.value_set = frozenset(self.value_names)
        self.blank = dict.fromkeys(self.value_names)  # a record's values, every column present
        assert len(self.value_names) > 1  # so that itemgetter gives a tuple
        self.pick = itemgetter(*self.value_names)
        self.json = processor(table, "extra") or json.dumps
        self.no_extra = self.json({})
        self.tail = tuple(stored(table, n, fixed[n]) for n in tail)
        self.processed = [(n, remembering(proc)) for n in self.value_names
                          if (proc := processor(table, n)) is not None]
        self.campaign_id = fixed["campaign_id"]
        self.event_columns = [c for c in events.c.keys() if c != "id"]  # noqa: SIM118
        self.event_params = tuple(stored(events, c, event[c]) for c in self.event_columns
                                  if c != "record_id")

    def row(self, rec: NewRecord) -> tuple[Any, ...]:
        """``rec`` as the INSERT's parameters: what Core would bind, already bound (each
        conversion remembered per value, see :func:`~engine.store.db.remembering`)."""
        values = rec.values
        full = {**self.blank, **values}
        extra = self.no_extra
        if len(full) != len(self.blank):  # campaign fields, to the JSON column
            fields = {k: jsonable(v) for k, v in values.items()
                      if k not in self.value_set and k not in FIXED}
            if fields:
                extra = self.json(fields)
        for name, proc in self.processed:
            if (value := full[name]) is not None:
                full[name] = proc(value)
        return (rec.natural_key, rec.external_id, rec.body_id, *self.pick(full), extra,
                *self.tail)

    def takes(self, rows: int) -> bool:
        """Whether a batch of ``rows`` records goes this way (else through Core)."""
        return True

    @staticmethod
    def firsts(chunk: list[NewRecord]) -> list[NewRecord]:
        """The batch without repeats of a key: only a key's first record goes in."""
        if len({rec.natural_key for rec in chunk}) == len(chunk):
            return chunk
        first: dict[str, NewRecord] = {}
        for rec in chunk:
            first.setdefault(rec.natural_key, rec)
        return list(first.values())

    @staticmethod
    def duplicates(chunk: list[NewRecord], stored: set[str]) -> list[str]:
        """The keys of ``chunk`` not inserted, in order: ``stored`` before, or repeated."""
        out, seen = [], set()
        for rec in chunk:
            key = rec.natural_key
            if key in stored or key in seen:
                out.append(key)
            else:
                seen.add(key)
        return out


class SqliteBulk(_Bulk):
    """Inserts on SQLite through the DBAPI cursor, inside the caller's transaction.

    One prebuilt INSERT, executed over tuples in column order whose values are already what
    SQLAlchemy would bind (each column type's own bind processor, taken from the dialect, turns
    dates, timestamps, booleans and JSON into the same stored text and numbers). Statements go
    through ``exec_driver_sql``, so engine events (the crash tests' kill points) still see them.

    New ids without RETURNING: SQLite gives a rowid table's new row ``max(rowid) + 1``, and from
    the first INSERT on, the transaction holds the database's write lock, so the rows of one
    executemany are numbered consecutively up to ``last_insert_rowid()``. The create events are
    then one ``INSERT ... SELECT`` over that id range, and its row count is checked.
    """

    def __init__(self, conn: Connection, table: Table, fixed: Mapping[str, Any],
                 event: Mapping[str, Any]) -> None:
        super().__init__(conn, table, fixed, event)
        self.sql = (f"INSERT INTO {table.name} ({', '.join(self.names)}) "
                    f"VALUES ({', '.join('?' * len(self.names))}) "
                    "ON CONFLICT (campaign_id, natural_key) DO NOTHING")
        cols = self.event_columns
        picks = ["id" if c == "record_id" else "?" for c in cols]
        self.event_sql = (f"INSERT INTO events ({', '.join(cols)}) SELECT {', '.join(picks)} "
                          f"FROM {table.name} WHERE id BETWEEN ? AND ? ORDER BY id")

    def add(self, chunk: list[NewRecord]) -> list[str]:
        """Insert ``chunk``'s new records with their events; its duplicates' keys, in order.

        A key already stored is found by the INSERT itself (``ON CONFLICT DO NOTHING`` on the
        campaign's natural-key index, nothing else is ignored), so a batch without duplicates
        costs no lookup; only a batch with some reads back which of its keys went in.
        """
        fresh = self.firsts(chunk)
        conn, name, row = self.conn, self.table.name, self.row
        inserted = conn.exec_driver_sql(self.sql, [row(rec) for rec in fresh]).rowcount
        stored: set[str] = set()
        if inserted:
            last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
            first = last - inserted + 1
            logged = conn.exec_driver_sql(self.event_sql, (*self.event_params, first, last))
            if logged.rowcount != inserted:  # not consecutive after all (rowid overflow)
                raise RuntimeError(f"{name}: new ids {first}..{last} are not this batch's")
        if inserted != len(fresh):
            went_in = set() if not inserted else {key for (key,) in conn.exec_driver_sql(
                f"SELECT natural_key FROM {name} WHERE id BETWEEN ? AND ?", (first, last))}
            stored = {rec.natural_key for rec in fresh} - went_in
        if len(fresh) == len(chunk) and not stored:
            return []
        return self.duplicates(chunk, stored)


class PostgresBulk(_Bulk):
    """Inserts on PostgreSQL under psycopg, inside the caller's transaction.

    The batch is copied into a temporary table shaped like the records' (no constraints,
    dropped at commit), its ``id`` holding each row's place in the batch. One statement then
    empties it into the table in that order, leaving out keys already stored, writes a
    ``create`` event per inserted row in id order, and returns the keys it left out. Stored
    keys are filtered before the insert rather than only by ``ON CONFLICT`` (kept for a
    concurrent import), which would draw an id for every conflicting row: re-importing a file
    would then leave a gap in the ids the size of the file, and ids would differ from Core's.
    The statements go through ``exec_driver_sql``, so engine events see them; the ``COPY``
    itself goes to the driver."""

    def __init__(self, conn: Connection, table: Table, fixed: Mapping[str, Any],
                 event: Mapping[str, Any]) -> None:
        super().__init__(conn, table, fixed, event)
        # ``extra`` as the JSON text psycopg's wrapper would send (the wrapper re-dumps per row)
        serialize = getattr(conn.dialect, "_json_serializer", None) or json.dumps
        self.json = serialize
        self.no_extra = serialize({})
        names, staging = ", ".join(self.names), staged_name(table.name)
        cols = self.event_columns
        picks = ", ".join("id" if c == "record_id" else "%s" for c in cols)
        self.sql = (
            f"WITH staged AS (DELETE FROM {staging} RETURNING id AS place, {names}), "
            f"added AS (INSERT INTO {table.name} ({names}) SELECT {names} FROM staged s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table.name} r WHERE r.campaign_id = "
            "s.campaign_id AND r.natural_key = s.natural_key) "
            "ORDER BY place ON CONFLICT (campaign_id, natural_key) DO NOTHING "
            "RETURNING id, natural_key), "
            f"logged AS (INSERT INTO events ({', '.join(cols)}) SELECT {picks} FROM added "
            "ORDER BY id) "
            "SELECT natural_key FROM staged EXCEPT SELECT natural_key FROM added")

    def takes(self, rows: int) -> bool:
        return copy_path(self.conn, rows)  # a batch too small is not worth a staging table

    def add(self, chunk: list[NewRecord]) -> list[str]:
        """Insert ``chunk``'s new records with their events; its duplicates' keys, in order."""
        fresh = self.firsts(chunk)
        conn, row = self.conn, self.row
        stage(conn, self.table.name, self.names, (row(rec) for rec in fresh))
        stored = set(conn.exec_driver_sql(self.sql, self.event_params).scalars())
        if len(fresh) == len(chunk) and not stored:
            return []
        return self.duplicates(chunk, stored)
