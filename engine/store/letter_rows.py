"""Writing letter rows: each idempotency key once, whoever writes it and however often."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql

from engine.store.db import bind_converter
from engine.store.tables import letters


def insert_letters(conn: Connection, rows: list[dict[str, object]]) -> int:
    """Insert the letters whose key is new; returns how many went in.

    PostgreSQL counts through RETURNING (rowcount is -1 under psycopg for this statement).
    SQLite sends one ``INSERT OR IGNORE`` to the driver's executemany, whose row count sums
    the rows actually inserted, with the values converted as SQLAlchemy would store them:
    through SQLAlchemy's own executemany, a national tick's thousand letters cost about
    three times as much."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(letters).on_conflict_do_nothing(
            index_elements=["idempotency_key"]).returning(letters.c.id)
        return len(conn.execute(stmt, rows).all())
    columns = list(rows[0])
    convert = [(at, f) for at, name in enumerate(columns)
               if (f := bind_converter(letters, name, conn.dialect)) is not None]
    values = []
    for row in rows:
        value = [row[c] for c in columns]
        for at, f in convert:  # dates and timestamps
            if value[at] is not None:
                value[at] = f(value[at])
        values.append(tuple(value))
    return int(conn.exec_driver_sql(  # through the engine, so its events see the statement
        f"INSERT OR IGNORE INTO letters ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})", values).rowcount)


def sqlite_write_lock(conn: Connection, table: str = "letters") -> None:
    """On SQLite, take the database's write lock now, with a first statement that writes
    nothing: taken later, after a read, it would fail on a stale snapshot instead of waiting
    for the other writer. No-op elsewhere."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"UPDATE {table} SET id = id WHERE 0")
