"""Writing letter rows: each idempotency key once, whoever writes it and however often."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from engine.store.tables import letters


def insert_letters(conn: Connection, rows: list[dict[str, object]]) -> int:
    """Insert the letters whose key is new; returns how many went in.

    PostgreSQL counts through RETURNING (rowcount is -1 under psycopg for this statement).
    SQLite counts through the connection's change counter around one plain ``executemany``
    (no trigger writes on ``letters``, so every change counted is a letter inserted): with
    RETURNING, SQLAlchemy would send a national tick's thousand letters in small batches."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(letters).on_conflict_do_nothing(
            index_elements=["idempotency_key"]).returning(letters.c.id)
        return len(conn.execute(stmt, rows).all())
    dbapi = conn.connection.driver_connection
    before = dbapi.total_changes  # type: ignore[union-attr]
    conn.execute(sqlite.insert(letters).on_conflict_do_nothing(
        index_elements=["idempotency_key"]), rows)
    return int(dbapi.total_changes - before)  # type: ignore[union-attr]


def sqlite_write_lock(conn: Connection, table: str = "letters") -> None:
    """On SQLite, take the database's write lock now, with a first statement that writes
    nothing: taken later, after a read, it would fail on a stale snapshot instead of waiting
    for the other writer. No-op elsewhere."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"UPDATE {table} SET id = id WHERE 0")
