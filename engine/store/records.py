"""Lead and case rows: add many at once, move one through its lifecycle, read them back.

Writes are batched through SQLAlchemy Core (an import of a million rows is a few thousand
statements, not a million ORM objects). Every change writes its audit event in the same
transaction; there is deliberately no function here that updates or deletes an event, and the
database refuses it too (see the initial migration).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Row, Table, insert, select, update

from engine.records.lifecycle import LifecycleMachine, Moved, Refused
from engine.store.db import Store
from engine.store.tables import RECORD_TABLES, events

BATCH = 5000


class RecordNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A validated lead or case, ready to insert; ``natural_key`` makes re-imports idempotent."""

    natural_key: str
    values: Mapping[str, Any]
    external_id: str | None = None
    body_id: str | None = None


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


def insert_records(store: Store, kind: str, campaign_id: str, definition_id: int,
                   records: Iterable[NewRecord], *, actor: str, initial_state: str,
                   progress: Callable[[int], None] | None = None) -> Inserted:
    """Insert all new records in ONE transaction; a natural key seen before is a duplicate."""
    table = RECORD_TABLES[kind]
    now = datetime.now(UTC)
    result = Inserted()
    with store.engine.begin() as conn:
        for chunk in _batches(records, BATCH):
            keys = [r.natural_key for r in chunk]
            existing = set(conn.scalars(select(table.c.natural_key).where(
                table.c.campaign_id == campaign_id, table.c.natural_key.in_(keys))))
            rows = []
            for rec in chunk:
                if rec.natural_key in existing:
                    result.duplicates.append(rec.natural_key)
                    continue
                existing.add(rec.natural_key)
                own, extra = split_values(table, rec.values)
                rows.append({**{c: None for c in _value_columns(table)}, **own,
                             "campaign_id": campaign_id, "definition_id": definition_id,
                             "natural_key": rec.natural_key, "external_id": rec.external_id,
                             "body_id": rec.body_id, "state": initial_state, "extra": extra,
                             "state_since": now, "created_at": now, "updated_at": now,
                             "row_version": 1})
            if rows:
                ids = conn.execute(insert(table).returning(table.c.id), rows).scalars().all()
                conn.execute(insert(events), [
                    {"occurred_at": now, "campaign_id": campaign_id, "record_kind": kind,
                     "record_id": rid, "trigger": "create", "from_state": None,
                     "to_state": initial_state, "actor": actor, "reason": "导入/登记",
                     "definition_id": definition_id, "data": None} for rid in ids])
                result.inserted += len(rows)
            if progress:
                progress(len(chunk))
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
