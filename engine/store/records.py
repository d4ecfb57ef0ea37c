"""Lead and case rows: add many at once, move one through its lifecycle, read them back.

Writes are batched (an import of a million rows is a few hundred statements, not a million
ORM objects): through SQLAlchemy Core, and on SQLite through one prebuilt statement over
values the columns' own bind processors converted (:class:`SqliteBulk`). Every change writes
its audit event in the same transaction; there is deliberately no function here that updates
or deletes an event, and the database refuses it too (see the initial migration).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import islice
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Row, Table, insert, select, update

from engine.records.lifecycle import LifecycleMachine, Moved, Refused
from engine.store.db import Store, bind_converter
from engine.store.tables import RECORD_TABLES, events

BATCH = 5000
IMPORT_CACHE_KIB = 32 * 1024
"""SQLite page cache while a bulk insert runs (default 2 MB): the unique natural-key index of a
large import takes its keys in no order (hashed keys of leads without a number), and with the
default cache each insert spills and rereads index pages; 600k hashed keys insert ~30% faster."""


class RecordNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True, init=False)
class NewRecord:
    """A validated lead or case, ready to insert; ``natural_key`` makes re-imports idempotent."""

    natural_key: str
    values: Mapping[str, Any]
    external_id: str | None = None
    body_id: str | None = None

    def __init__(self, natural_key: str, values: Mapping[str, Any],
                 external_id: str | None = None, body_id: str | None = None) -> None:
        # through the slots themselves: a frozen dataclass's own __init__ calls
        # object.__setattr__ per field, twice as slow, and an import makes one per row
        _SET_KEY(self, natural_key)
        _SET_VALUES(self, values)
        _SET_EXTERNAL(self, external_id)
        _SET_BODY(self, body_id)


_SET_KEY, _SET_VALUES, _SET_EXTERNAL, _SET_BODY = (
    NewRecord.__dict__[name].__set__ for name in ("natural_key", "values", "external_id",
                                                  "body_id"))


@dataclass(slots=True)
class Inserted:
    inserted: int = 0
    duplicates: list[str] = field(default_factory=list)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def split_values(table: Table, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Built-in fields go to their typed columns, campaign-declared ones to ``extra``."""
    columns = set(table.c.keys())
    own = {k: v for k, v in values.items() if k in columns}
    extra = {k: _jsonable(v) for k, v in values.items() if k not in columns}
    return own, extra


def _batches(items: Iterable[NewRecord], size: int) -> Iterator[list[NewRecord]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


CREATE_REASON = "导入/登记"
_FIXED = frozenset({"id", "campaign_id", "definition_id", "natural_key", "external_id", "state",
                    "body_id", "extra", "state_since", "created_at", "updated_at", "row_version"})


_MEMO_TYPES = frozenset({str, int, bool, date})
"""Values whose equal instances a bind processor always turns into the same stored value."""


class SqliteBulk:
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
        dialect = conn.dialect
        self.conn, self.table = conn, table

        def processor(t: Table, name: str) -> Callable[[Any], Any] | None:
            return bind_converter(t, name, dialect)

        def stored(t: Table, name: str, value: Any) -> Any:
            proc = processor(t, name)
            return proc(value) if proc is not None else value

        self.value_names = _value_columns(table)
        head = ["natural_key", "external_id", "body_id"]
        tail = [n for n in table.c.keys()  # noqa: SIM118 - names, not Columns
                if n not in {"id", "extra", *head, *self.value_names}]
        names = [*head, *self.value_names, "extra", *tail]  # the INSERT's column order
        self.value_set = frozenset(self.value_names)
        self.blank = dict.fromkeys(self.value_names)  # a record's values, every column present
        assert len(self.value_names) > 1  # so that itemgetter gives a tuple
        self.pick = itemgetter(*self.value_names)
        self.json = processor(table, "extra") or json.dumps
        self.no_extra = self.json({})
        self.tail = tuple(stored(table, n, fixed[n]) for n in tail)
        self.processed = [(n, {}, proc) for n in self.value_names
                          if (proc := processor(table, n)) is not None]
        self.campaign_id = fixed["campaign_id"]
        self.sql = (f"INSERT INTO {table.name} ({', '.join(names)}) "
                    f"VALUES ({', '.join('?' * len(names))}) "
                    "ON CONFLICT (campaign_id, natural_key) DO NOTHING")
        cols = [c for c in events.c.keys() if c != "id"]  # noqa: SIM118
        self.event_params = tuple(stored(events, c, event[c]) for c in cols if c != "record_id")
        picks = ["id" if c == "record_id" else "?" for c in cols]
        self.event_sql = (f"INSERT INTO events ({', '.join(cols)}) SELECT {', '.join(picks)} "
                          f"FROM {table.name} WHERE id BETWEEN ? AND ? ORDER BY id")

    def row(self, rec: NewRecord) -> tuple[Any, ...]:
        """``rec`` as the INSERT's parameters: what :func:`_core_row` binds, already bound.

        Each bind processor's result is remembered per value (a file repeats its dates and
        yes/no), keyed by type as well: not float or Decimal (-0.0 == 0.0), not datetime (equal
        instants in two time zones), and 1 == True.
        """
        values = rec.values
        full = {**self.blank, **values}
        extra = self.no_extra
        if len(full) != len(self.blank):  # campaign fields, to the JSON column
            fields = {k: _jsonable(v) for k, v in values.items()
                      if k not in self.value_set and k not in _FIXED}
            if fields:
                extra = self.json(fields)
        for name, memo, proc in self.processed:
            if (value := full[name]) is not None:
                kind = value.__class__
                if kind in _MEMO_TYPES:
                    found = memo.get((kind, value), memo)
                    if found is memo:
                        found = proc(value)
                        if len(memo) < 10_000:
                            memo[kind, value] = found
                    full[name] = found
                else:
                    full[name] = proc(value)
        return (rec.natural_key, rec.external_id, rec.body_id, *self.pick(full), extra,
                *self.tail)

    def add(self, chunk: list[NewRecord]) -> list[str]:
        """Insert ``chunk``'s new records with their events; its duplicates' keys, in order.

        A key already stored is found by the INSERT itself (``ON CONFLICT DO NOTHING`` on the
        campaign's natural-key index, nothing else is ignored), so a batch without duplicates
        costs no lookup; only a batch with some reads back which of its keys went in.
        """
        seen = {rec.natural_key for rec in chunk}
        fresh = chunk
        if len(seen) != len(chunk):  # a key twice in the batch: only its first goes in
            firsts: dict[str, NewRecord] = {}
            for rec in chunk:
                firsts.setdefault(rec.natural_key, rec)
            fresh = list(firsts.values())
        conn, name, row = self.conn, self.table.name, self.row
        inserted = conn.exec_driver_sql(self.sql, [row(rec) for rec in fresh]).rowcount
        stored: set[str] = set()
        if inserted:
            last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
            first = last - inserted + 1
            events = conn.exec_driver_sql(self.event_sql, (*self.event_params, first, last))
            if events.rowcount != inserted:  # not consecutive after all (rowid overflow)
                raise RuntimeError(f"{name}: new ids {first}..{last} are not this batch's")
        if inserted != len(fresh):
            went_in = set() if not inserted else {key for (key,) in conn.exec_driver_sql(
                f"SELECT natural_key FROM {name} WHERE id BETWEEN ? AND ?", (first, last))}
            stored = seen - went_in
        if len(fresh) == len(chunk) and not stored:
            return []
        duplicates, first_seen = [], set()
        for rec in chunk:
            key = rec.natural_key
            if key in stored or key in first_seen:
                duplicates.append(key)
            else:
                first_seen.add(key)
        return duplicates


def _add_core(conn: Connection, table: Table, chunk: list[NewRecord],
              fixed: Mapping[str, Any], event: Mapping[str, Any]) -> list[str]:
    """The portable path (PostgreSQL): SQLAlchemy Core, new ids through RETURNING."""
    keys = [r.natural_key for r in chunk]
    existing = set(conn.scalars(select(table.c.natural_key).where(
        table.c.campaign_id == fixed["campaign_id"], table.c.natural_key.in_(keys))))
    duplicates, rows = [], []
    for rec in chunk:
        if rec.natural_key in existing:
            duplicates.append(rec.natural_key)
            continue
        existing.add(rec.natural_key)
        rows.append(_core_row(table, rec, fixed))
    if rows:
        ids = conn.execute(insert(table).returning(table.c.id), rows).scalars().all()
        conn.execute(insert(events), [{**event, "record_id": rid} for rid in ids])
    return duplicates


def _core_row(table: Table, rec: NewRecord, fixed: Mapping[str, Any]) -> dict[str, Any]:
    own, extra = split_values(table, rec.values)
    return {**{c: None for c in _value_columns(table)}, **own, **fixed,
            "natural_key": rec.natural_key, "external_id": rec.external_id,
            "body_id": rec.body_id, "extra": extra}


def insert_records(store: Store, kind: str, campaign_id: str, definition_id: int,
                   records: Iterable[NewRecord], *, actor: str, initial_state: str,
                   progress: Callable[[int], None] | None = None,
                   bulk: bool | None = None) -> Inserted:
    """Insert all new records in ONE transaction; a natural key seen before is a duplicate.

    Each inserted record gets one ``create`` event. On SQLite the rows go through
    :class:`SqliteBulk` (one prebuilt statement, values already in stored form) unless ``bulk``
    is False; elsewhere, or with ``bulk=False``, through SQLAlchemy Core. Both store the same
    bytes (tests/test_import_speed_paths.py compares them column by column).
    """
    table = RECORD_TABLES[kind]
    now = datetime.now(UTC)
    result = Inserted()
    fixed = {"campaign_id": campaign_id, "definition_id": definition_id, "state": initial_state,
             "state_since": now, "created_at": now, "updated_at": now, "row_version": 1}
    event = {"occurred_at": now, "campaign_id": campaign_id, "record_kind": kind,
             "trigger": "create", "from_state": None, "to_state": initial_state, "actor": actor,
             "reason": CREATE_REASON, "definition_id": definition_id, "data": None}
    with store.engine.begin() as conn:
        fast = SqliteBulk(conn, table, fixed, event) \
            if bulk is not False and conn.dialect.name == "sqlite" else None
        cache = None
        if fast is not None:  # restored below: the connection goes back to the pool
            cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
            conn.exec_driver_sql(f"PRAGMA cache_size={-IMPORT_CACHE_KIB}")
        for chunk in _batches(records, BATCH):
            if fast is not None and not any("id" in rec.values for rec in chunk):
                duplicates = fast.add(chunk)
            else:  # a caller-chosen id (never from intake) keeps the Core path's meaning
                duplicates = _add_core(conn, table, chunk, fixed, event)
            result.duplicates += duplicates
            result.inserted += len(chunk) - len(duplicates)
            if progress:
                progress(len(chunk))
        if cache is not None:
            conn.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")
    return result


def _value_columns(table: Table) -> list[str]:
    fixed = {"id", "campaign_id", "definition_id", "natural_key", "external_id", "state",
             "body_id", "extra", "state_since", "created_at", "updated_at", "row_version"}
    return [c for c in table.c.keys() if c not in fixed]  # noqa: SIM118 - names, not Columns


def fields_of(row: Row[Any] | Mapping[str, Any], table: Table) -> dict[str, Any]:
    """A row's field values as the lifecycle guards see them (extras included)."""
    data = dict(row._mapping) if isinstance(row, Row) else dict(row)
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    out = {c: data.get(c) for c in _value_columns(table)}
    out.update(extra)
    return out


def get(store: Store, kind: str, record_id: int) -> dict[str, Any]:
    table = RECORD_TABLES[kind]
    with store.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.id == record_id)).first()
    if row is None:
        raise RecordNotFound(f"{kind} {record_id}")
    return dict(row._mapping)


def history(store: Store, kind: str, record_id: int) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(events).where(
            events.c.record_kind == kind, events.c.record_id == record_id).order_by(events.c.id))
        return [dict(r._mapping) for r in rows]


def listing(store: Store, kind: str, *, campaign: str | None = None, state: str | None = None,
            body: str | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Rows matching the filters, in id order, streamed."""
    table = RECORD_TABLES[kind]
    query = select(table).order_by(table.c.id)
    for column, value in (("campaign_id", campaign), ("state", state), ("body_id", body)):
        if value is not None:
            query = query.where(table.c[column] == value)
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        for row in conn.execution_options(stream_results=True, yield_per=2000).execute(query):
            yield dict(row._mapping)


def move(store: Store, kind: str, record_id: int, trigger: str, machine: LifecycleMachine, *,
         actor: str, reason: str | None = None) -> Moved | Refused:
    """Fire ``trigger`` on one record: the state change and its event commit together."""
    with store.engine.begin() as conn:
        return move_in(conn, kind, record_id, trigger, machine, actor=actor, reason=reason)


def move_in(conn: Connection, kind: str, record_id: int, trigger: str, machine: LifecycleMachine,
            *, actor: str, reason: str | None = None, at: datetime | None = None,
            ) -> Moved | Refused:
    """:func:`move` inside the caller's transaction (the tick's timers move records this way).

    ``at`` is when the record entered its new state (default now); a simulated run passes
    its own clock so the record's timers count from the simulated day."""
    if not actor.strip():
        raise ValueError("every state change records an actor")
    table = RECORD_TABLES[kind]
    query = select(table).where(table.c.id == record_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise RecordNotFound(f"{kind} {record_id}")
    outcome = machine.fire(row.state, trigger, fields_of(row, table))
    if isinstance(outcome, Refused):
        return outcome
    now = datetime.now(UTC)
    changed = conn.execute(update(table).where(
        table.c.id == record_id, table.c.row_version == row.row_version).values(
        state=outcome.dest, state_since=at or now, updated_at=now,
        row_version=row.row_version + 1)).rowcount
    if changed != 1:  # someone else moved it between our read and write
        raise RuntimeError(f"{kind} {record_id} changed concurrently; retry")
    conn.execute(insert(events).values(
        occurred_at=now, campaign_id=row.campaign_id, record_kind=kind, record_id=record_id,
        trigger=trigger, from_state=outcome.source, to_state=outcome.dest, actor=actor,
        reason=reason, definition_id=row.definition_id))
    return outcome
