"""Lead and case rows: add many at once, move one through its lifecycle, read them back.

Writes are batched (an import of a million rows is a few hundred statements, not a million
ORM objects): through SQLAlchemy Core, or each dialect's faster path in
:mod:`engine.store.bulk` that stores the same values. Every change writes
its audit event in the same transaction; there is deliberately no function here that updates
or deletes an event, and the database refuses it too (see the initial migration).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Row, Table, insert, select, update

from engine.records.lifecycle import LifecycleMachine, Moved, Refused
from engine.store.bulk import PostgresBulk, SqliteBulk, jsonable, value_columns
from engine.store.db import Store, copy_path
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


def split_values(table: Table, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Built-in fields go to their typed columns, campaign-declared ones to ``extra``."""
    columns = set(table.c.keys())
    own = {k: v for k, v in values.items() if k in columns}
    extra = {k: jsonable(v) for k, v in values.items() if k not in columns}
    return own, extra


def _batches(items: Iterable[NewRecord], size: int) -> Iterator[list[NewRecord]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


CREATE_REASON = "导入/登记"

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
    return {**{c: None for c in value_columns(table)}, **own, **fixed,
            "natural_key": rec.natural_key, "external_id": rec.external_id,
            "body_id": rec.body_id, "extra": extra}


def _fast_path(conn: Connection, table: Table, fixed: Mapping[str, Any],
               event: Mapping[str, Any]) -> SqliteBulk | PostgresBulk | None:
    """The dialect's bulk path (see :mod:`engine.store.bulk`), if it has one."""
    if conn.dialect.name == "sqlite":
        return SqliteBulk(conn, table, fixed, event)
    if copy_path(conn):
        return PostgresBulk(conn, table, fixed, event)
    return None


def insert_records(store: Store, kind: str, campaign_id: str, definition_id: int,
                   records: Iterable[NewRecord], *, actor: str, initial_state: str,
                   progress: Callable[[int], None] | None = None,
                   bulk: bool | None = None) -> Inserted:
    """Insert all new records in ONE transaction; a natural key seen before is a duplicate.

    Each inserted record gets one ``create`` event. On SQLite, and on PostgreSQL where
    :func:`~engine.store.db.copy_path` allows, the rows go through the dialect's path in
    :mod:`engine.store.bulk` unless ``bulk`` is False; elsewhere, or with ``bulk=False``,
    through SQLAlchemy Core. Both store the same values (tests/test_import_speed_paths.py
    compares them row by row).
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
        fast = _fast_path(conn, table, fixed, event) if bulk is not False else None
        cache = None
        if isinstance(fast, SqliteBulk):  # restored below: the connection goes back to the pool
            cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
            conn.exec_driver_sql(f"PRAGMA cache_size={-IMPORT_CACHE_KIB}")
        for chunk in _batches(records, BATCH):
            if fast is not None and fast.takes(len(chunk)) and \
                    not any("id" in rec.values for rec in chunk):
                duplicates = fast.add(chunk)
            else:  # a caller-chosen id (never from intake) keeps the Core path's meaning;
                # on PostgreSQL, so does a batch too small for COPY
                duplicates = _add_core(conn, table, chunk, fixed, event)
            result.duplicates += duplicates
            result.inserted += len(chunk) - len(duplicates)
            if progress:
                progress(len(chunk))
        if cache is not None:
            conn.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")
    return result


def fields_of(row: Row[Any] | Mapping[str, Any], table: Table) -> dict[str, Any]:
    """A row's field values as the lifecycle guards see them (extras included)."""
    data = dict(row._mapping) if isinstance(row, Row) else dict(row)
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    out = {c: data.get(c) for c in value_columns(table)}
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
