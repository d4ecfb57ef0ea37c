"""Moving many records at once inside the caller's transaction: the tick's ``fire`` timers.

:func:`engine.store.records.move_in` reads, checks and writes one record per three statements;
a national tick that closes a thousand decided cases would spend most of its time there. Here
the rows are read with one ``IN`` query per 500 ids, each move is checked by the one machine of
the lifecycle (once per state, for a trigger whose guards read no field), and the updates and
audit events go out as two ``executemany`` statements, with the same optimistic
``row_version`` guard and the same events as a move made one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from engine.records.lifecycle import LifecycleMachine, Moved, Refused
from engine.store.db import stored_rows
from engine.store.records import RecordNotFound, fields_of
from engine.store.tables import RECORD_TABLES, events

CHUNK = 500


@dataclass(frozen=True, slots=True)
class MoveRequest:
    """Fire ``trigger`` on record ``record_id``; ``reason`` goes to the audit event."""

    record_id: int
    trigger: str
    reason: str | None = None


def move_many_in(conn: Connection, kind: str, requests: Sequence[MoveRequest],
                 machine: LifecycleMachine, *, actor: str, at: datetime | None = None,
                 ) -> list[Moved | Refused]:
    """Apply ``requests`` in order, as :func:`move_in` would one by one; outcomes in order.

    A record named twice is moved from where the first request left it. A record changed by
    someone else between the read and the write fails the whole transaction, as in ``move_in``
    (PostgreSQL rows are read ``FOR UPDATE``, so there it cannot happen)."""
    if not actor.strip():
        raise ValueError("every state change records an actor")
    table = RECORD_TABLES[kind]
    reads = {trigger: machine.reads_fields(trigger) for trigger in {r.trigger for r in requests}}
    # a guard reading fields needs the whole row; otherwise what the move and its event use
    columns = (table.c if any(reads.values()) else
               (table.c.id, table.c.state, table.c.row_version, table.c.campaign_id,
                table.c.definition_id))
    rows = {}
    ids = sorted({r.record_id for r in requests})
    for start in range(0, len(ids), CHUNK):
        query = select(*columns).where(table.c.id.in_(ids[start:start + CHUNK]))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows.update({row.id: row for row in conn.execute(query)})
    now = datetime.now(UTC)
    current: dict[int, tuple[str, int]] = {}  # id -> (state, row_version) as moved so far
    updates: list[dict[str, object]] = []
    audit: list[dict[str, object]] = []
    outcomes: list[Moved | Refused] = []
    decided: dict[tuple[str, str], Moved | Refused] = {}  # unguarded: by state and trigger
    for req in requests:
        row = rows.get(req.record_id)
        if row is None:
            raise RecordNotFound(f"{kind} {req.record_id}")
        state, version = current.get(req.record_id, (row.state, row.row_version))
        if reads[req.trigger]:
            outcome = machine.fire(state, req.trigger, fields_of(row, table))
        elif (outcome := decided.get((state, req.trigger))) is None:
            # no guard looks at the row, so the machine's answer is the same for every row
            # in this state: asked once, not a hundred times (20 µs each through transitions)
            outcome = decided[(state, req.trigger)] = machine.fire(state, req.trigger, {})
        outcomes.append(outcome)
        if isinstance(outcome, Refused):
            continue
        current[req.record_id] = (outcome.dest, version + 1)
        updates.append({"b_id": req.record_id, "b_version": version, "state": outcome.dest,
                        "state_since": at or now, "updated_at": now,
                        "row_version": version + 1})
        audit.append({"occurred_at": now, "campaign_id": row.campaign_id, "record_kind": kind,
                      "record_id": req.record_id, "trigger": req.trigger,
                      "from_state": outcome.source, "to_state": outcome.dest, "actor": actor,
                      "reason": req.reason, "definition_id": row.definition_id})
    if updates:
        changed = _write(conn, table, updates, audit)
        if conn.dialect.supports_sane_multi_rowcount and changed != len(updates):
            raise RuntimeError(f"{kind} records changed concurrently; retry")
    return outcomes


_SET = ("state", "state_since", "updated_at", "row_version")
_EVENT = ("occurred_at", "campaign_id", "record_kind", "record_id", "trigger", "from_state",
          "to_state", "actor", "reason", "definition_id")  # no data: NULL, as from move_in


def _write(conn: Connection, table: Table, updates: list[dict[str, object]],
           audit: list[dict[str, object]]) -> int:
    """The guarded updates and their audit events; returns how many rows the updates changed.

    SQLite: straight to the driver's executemany, the values bound as Core would bind them
    (:func:`~engine.store.db.stored_rows`); through Core's executemany the hundred ``fire``
    moves of a national tick spent 2.2 ms on these two statements, most of it Core's own
    per-row work. Elsewhere, Core."""
    if conn.dialect.name != "sqlite":
        changed = conn.execute(update(table).where(
            table.c.id == bindparam("b_id"), table.c.row_version == bindparam("b_version")),
            updates).rowcount
        conn.execute(insert(events), audit)
        return int(changed)
    columns = (*_SET, "id", "row_version")
    params = stored_rows(table, columns, ([*(u[c] for c in _SET), u["b_id"], u["b_version"]]
                                          for u in updates), conn.dialect)
    changed = conn.exec_driver_sql(  # through the engine, so its events see the statement
        f"UPDATE {table.name} SET {', '.join(f'{c} = ?' for c in _SET)} "
        "WHERE id = ? AND row_version = ?", params).rowcount
    conn.exec_driver_sql(
        f"INSERT INTO events ({', '.join(_EVENT)}) VALUES ({', '.join('?' * len(_EVENT))})",
        stored_rows(events, _EVENT, ([a[c] for c in _EVENT] for a in audit), conn.dialect))
    return int(changed)
