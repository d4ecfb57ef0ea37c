"""Writing letter rows: each idempotency key once, whoever writes it and however often."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from engine.store.tables import letters


def insert_letters(conn: Connection, rows: list[dict[str, object]]) -> int:
    """Insert the letters whose key is new; returns how many went in. The count comes from
    RETURNING, which (unlike rowcount, -1 under psycopg for this statement) is exact."""
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(letters).on_conflict_do_nothing(
        index_elements=["idempotency_key"]).returning(letters.c.id)
    return len(conn.execute(stmt, rows).all())


def sqlite_write_lock(conn: Connection, table: str = "letters") -> None:
    """On SQLite, take the database's write lock now, with a first statement that writes
    nothing: taken later, after a read, it would fail on a stale snapshot instead of waiting
    for the other writer. No-op elsewhere."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"UPDATE {table} SET id = id WHERE 0")
