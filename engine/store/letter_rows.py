"""Writing letter rows: each idempotency key once, whoever writes it and however often."""

from __future__ import annotations

from operator import itemgetter

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql

from engine.store.db import copy_path, stage, stored_rows
from engine.store.tables import letters


def insert_letters(conn: Connection, rows: list[dict[str, object]]) -> int:
    """Insert the letters whose key is new; returns how many went in.

    Each dialect takes the batch the cheapest way that still skips a key already there and
    counts only the rows it inserted (a national tick writes about a thousand letters, most
    of them a page of text):

    - SQLite: one ``INSERT OR IGNORE`` to the driver's executemany, whose row count sums the
      rows inserted, with the values converted as SQLAlchemy would store them. Through
      SQLAlchemy's own executemany it cost about three times as much. Each date or timestamp
      is converted once per batch (a tick's letters share one day and one ``now``): converted
      per row, they took 3.4 ms of the 12 a thousand letters cost (see
      :func:`~engine.store.db.stored_rows`).
    - PostgreSQL under psycopg: ``COPY`` into a temporary table, then one ``INSERT … SELECT …
      ON CONFLICT DO NOTHING`` from it, 36 ms for a thousand letters. SQLAlchemy's one
      ``VALUES`` list of 14,000 placeholders took 170 ms, most of it psycopg re-parsing the
      statement; psycopg's pipelined executemany took 45 ms, but over TCP it stalled for
      200 ms in about half the runs (the server logged no slow statement).
    - Other PostgreSQL drivers, a role that may not create temporary tables, or a batch too
      small to be worth a temporary table (:func:`~engine.store.db.copy_path`): SQLAlchemy's
      insert, counted through RETURNING."""
    if not rows:
        return 0
    dialect = conn.dialect
    columns = list(rows[0])
    if dialect.name == "postgresql":
        if copy_path(conn, len(rows)):
            return _copy_in(conn, columns, rows)
        stmt = postgresql.insert(letters).on_conflict_do_nothing(
            index_elements=["idempotency_key"]).returning(letters.c.id)
        return len(conn.execute(stmt, rows).all())
    # dates and timestamps converted once each: mostly the tick's one day and one now
    values = stored_rows(letters, columns, map(itemgetter(*columns), rows), dialect)
    return int(conn.exec_driver_sql(  # through the engine, so its events see the statement
        f"INSERT OR IGNORE INTO letters ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})", values).rowcount)


def _copy_in(conn: Connection, columns: list[str], rows: list[dict[str, object]]) -> int:
    """PostgreSQL (psycopg): the rows staged (:func:`~engine.store.db.stage`), then moved on
    in their order by one statement that skips a key already there."""
    names = ", ".join(columns)
    staged = stage(conn, "letters", columns, ([row[c] for c in columns] for row in rows))
    return int(conn.exec_driver_sql(  # through the engine, so its events see the statement
        f"WITH staged AS (DELETE FROM {staged} RETURNING id, {names}) "
        f"INSERT INTO letters ({names}) SELECT {names} FROM staged ORDER BY id "
        "ON CONFLICT (idempotency_key) DO NOTHING").rowcount)


def sqlite_write_lock(conn: Connection, table: str = "letters") -> None:
    """On SQLite, take the database's write lock now, with a first statement that writes
    nothing: taken later, after a read, it would fail on a stale snapshot instead of waiting
    for the other writer. No-op elsewhere."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"UPDATE {table} SET id = id WHERE 0")
