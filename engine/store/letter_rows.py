"""Writing letter rows: each idempotency key once, whoever writes it and however often."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql

from engine.store.tables import letters


def insert_letters(conn: Connection, rows: list[dict[str, object]]) -> int:
    """Insert the letters whose key is new; returns how many went in.

    PostgreSQL counts through RETURNING (rowcount is -1 under psycopg for this statement).
    SQLite counts through the connection's change counter around one ``executemany`` of the
    driver, with the values converted by the columns' own SQLAlchemy bind processors (no
    trigger writes on ``letters``, so every change counted is a letter inserted): through
    SQLAlchemy, a national tick's thousand letters cost about three times as much."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(letters).on_conflict_do_nothing(
            index_elements=["idempotency_key"]).returning(letters.c.id)
        return len(conn.execute(stmt, rows).all())
    columns = list(rows[0])
    convert = [(at, f) for at, name in enumerate(columns)
               if (f := letters.c[name].type.bind_processor(conn.dialect)) is not None]
    values = []
    for row in rows:
        value = [row[c] for c in columns]
        for at, f in convert:  # dates and timestamps, as SQLAlchemy would store them
            if value[at] is not None:
                value[at] = f(value[at])
        values.append(value)
    dbapi = conn.connection.driver_connection
    before = dbapi.total_changes  # type: ignore[union-attr]
    dbapi.executemany(  # type: ignore[union-attr]
        f"INSERT OR IGNORE INTO letters ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})", values)
    return int(dbapi.total_changes - before)  # type: ignore[union-attr]


def sqlite_write_lock(conn: Connection, table: str = "letters") -> None:
    """On SQLite, take the database's write lock now, with a first statement that writes
    nothing: taken later, after a read, it would fail on a stale snapshot instead of waiting
    for the other writer. No-op elsewhere."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"UPDATE {table} SET id = id WHERE 0")
