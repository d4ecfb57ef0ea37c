"""Connecting to the store: which database, how it is tuned, and that its schema is current.

The embedded default is an SQLite file (``./campaign.db``); a shared deployment gives a
PostgreSQL URL through ``--db`` or ``CAMPAIGN_DB``. Credentials come from the URL or the
environment and are never shown: :func:`safe_url` is the only way a URL is printed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, Table, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError

from engine.store import migrate

DEFAULT_URL = "sqlite:///campaign.db"
ENV = "CAMPAIGN_DB"


def bind_converter(table: Table, column: str, dialect: Dialect,
                   ) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a Python value before ``column`` stores it on ``dialect`` (the
    dialect's own type: SQLite's DATETIME writes naive ``YYYY-MM-DD HH:MM:SS.ffffff`` text),
    for statements sent to the driver directly; None where the value goes as it is."""
    kind = table.c[column].type
    return kind.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]


_BY_VALUE = frozenset({str, int, bool, date})
"""Values whose equal instances a bind processor always turns into the same stored value."""


def remembering(convert: Callable[[Any], Any], limit: int = 10_000) -> Callable[[Any], Any]:
    """``convert`` (a :func:`bind_converter`), answering a value it has already converted from
    memory: a batch repeats its dates, timestamps and yes/no far more than it varies them.

    A value is remembered by its type as well (``1 == True``, printed differently), a timestamp
    also by its UTC offset (equal instants in two time zones are stored as different text), and
    not at all if it is a float or Decimal (``-0.0 == 0.0``) or anything else. At most ``limit``
    values are kept, so a column of distinct values costs no more than converting each."""
    said: dict[tuple[Any, ...], Any] = {}
    last: list[Any] = [said, None]  # the previous value and what it became

    def stored(value: Any) -> Any:
        if value is last[0]:  # the same object as the row before: a tick's one ``now``
            return last[1]
        kind = value.__class__
        if kind in _BY_VALUE:
            key: tuple[Any, ...] = (kind, value)
        elif kind is datetime:
            key = (kind, value, value.utcoffset())
        else:
            return convert(value)
        found = said.get(key, said)
        if found is said:
            found = convert(value)
            if len(said) < limit:
                said[key] = found
        last[0], last[1] = value, found  # immutable, so the same object is stored the same
        return found
    return stored


def stored_rows(table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                dialect: Dialect) -> list[tuple[Any, ...]]:
    """``rows`` (values in ``columns`` order; a name may come twice, as in an UPDATE's SET
    and WHERE) as SQLAlchemy would bind them for ``table`` on ``dialect``, for a statement
    sent to the driver's executemany: None included, since a JSON column stores it as
    ``null``. Each column's conversion is remembered per value (:func:`remembering`)."""
    convert = [(at, remembering(f)) for at, name in enumerate(columns)
               if (f := bind_converter(table, name, dialect)) is not None]
    if not convert:
        return [tuple(row) for row in rows]
    out = []
    for row in rows:
        value = list(row)
        for at, f in convert:
            value[at] = f(value[at])
        out.append(tuple(value))
    return out


COPY_MIN_ROWS = 50
"""Smaller batches are written with one ordinary statement: a temporary table created and
dropped for a forwarded lead or a handful of letters would cost more round trips than it saves
and, once per transaction, churn the system catalogues."""


def copy_path(conn: Connection, rows: int = COPY_MIN_ROWS) -> bool:
    """Whether a batch of ``rows`` should go through ``COPY`` and a temporary staging table
    here: PostgreSQL under psycopg, inside a transaction, a batch of at least
    :data:`COPY_MIN_ROWS`, and the right to create temporary tables. Hardened deployments
    revoke ``TEMPORARY`` from ``PUBLIC``; the writers then take SQLAlchemy's slower portable
    path instead of failing every day. The right is asked once per pooled connection."""
    dialect = conn.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg" or rows < COPY_MIN_ROWS:
        return False
    if conn.connection.driver_connection.autocommit:  # type: ignore[union-attr]
        return False  # no transaction to keep the staging table until the rows move on
    info = conn.connection.info
    if "copy_path" not in info:
        info["copy_path"] = bool(conn.exec_driver_sql(
            "SELECT has_database_privilege(current_database(), 'TEMPORARY')").scalar())
    return bool(info["copy_path"])


def staged_name(table: str) -> str:
    """The temporary table :func:`stage` copies a batch for ``table`` into."""
    return f"pg_temp.{table}_staged"


def stage(conn: Connection, table: str, columns: list[str],
          rows: Iterable[tuple[Any, ...]]) -> str:
    """Copy ``rows`` (values for ``columns``) into a temporary table shaped like ``table``,
    without its constraints, through the driver's ``COPY`` (only where :func:`copy_path`
    says so); returns the table's name. Each row's ``id`` there is its place in ``rows``, so
    the caller can move them on in order; the caller also empties the table as it does (a
    ``DELETE … RETURNING``), and it is dropped at commit, so a later transaction on the same
    connection, or a pooler's, starts without it. A failure in the ``COPY`` comes out as
    SQLAlchemy's own error naming it, as it would from any statement: SQLAlchemy never sees
    the ``COPY`` itself, only the ``CREATE`` before it."""
    name = staged_name(table)
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {name.removeprefix('pg_temp.')} "
                         f"ON COMMIT DROP AS SELECT * FROM {table} WITH NO DATA")
    sql = f"COPY {name} (id, {', '.join(columns)}) FROM STDIN"
    driver = conn.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for place, row in enumerate(rows):
                copy.write_row((place, *row))
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from exc
    return name


class StoreError(Exception):
    """A database that cannot be used, with a message for the operator."""


def resolve_url(url: str | None = None) -> str:
    return url or os.environ.get(ENV) or DEFAULT_URL


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as nothing
        return "<unparsable database URL>"


@dataclass(frozen=True)
class Store:
    engine: Engine
    url: str

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the daily tick
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")  # a second runner waits instead of failing
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def connect(url: str | None = None, *, upgrade: bool = True) -> Store:
    """Open the store; a fresh database gets the newest schema, an old one is upgraded."""
    resolved = resolve_url(url)
    try:
        engine = create_engine(resolved, future=True)
    except Exception as exc:  # bad URL or missing driver
        raise StoreError(f"无法使用数据库 {safe_url(resolved)}：{exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        current = migrate.current(engine)
        if upgrade and current != migrate.head():
            migrate.upgrade(engine)
        elif current != migrate.head():
            raise StoreError(f"数据库结构版本为 {migrate.current(engine)}，需要 {migrate.head()}："
                             "请运行 campaign db upgrade")
    except StoreError:
        raise
    except Exception as exc:  # unreachable server, permissions, locked file
        message = str(exc).replace(resolved, safe_url(resolved)).splitlines()[0]
        raise StoreError(f"无法连接数据库 {safe_url(resolved)}：{message}") from None
    return Store(engine, resolved)
