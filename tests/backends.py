"""Database backends for the tests: each test that takes ``db_url`` runs on SQLite and PostgreSQL.

``db_url`` is parametrised over ``sqlite`` (a real file, ``<tmp_path>/campaign.db``) and
``postgresql`` (a fresh, empty database created for that one test on the server that
``CAMPAIGN_TEST_PG`` names, and dropped after it). ``pg_url`` is the PostgreSQL case alone, and
``@pytest.mark.pg_only`` on a ``db_url`` test deselects its SQLite case.

``./scripts/test`` starts a throw-away server (``scripts/pg-test-server``) and sets
``CAMPAIGN_TEST_PG``; ``CAMPAIGN_TEST_PG=skip`` means SQLite only. Without a reachable server the
PostgreSQL cases are skipped, except where ``CI`` is ``true``: there they fail, so CI can never
silently lose the PostgreSQL half.

Loaded as a plugin: ``pytest_plugins = ["tests.backends"]`` or ``pytest -p tests.backends``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

ENV = "CAMPAIGN_TEST_PG"
BACKENDS = ("sqlite", "postgresql")
CONNECT_TIMEOUT = 10  # seconds; a server that is down refuses at once, a wrong host would hang


def in_ci() -> bool:
    """True where ``CI`` says so (``true``, as CI sets it, or ``1``)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def server_url(raw: str) -> URL:
    """The server URL from ``CAMPAIGN_TEST_PG``; psycopg (3) is the driver when none is named."""
    url = make_url(raw)
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {url.drivername}://…")
    return url


def admin_engine(url: URL) -> Engine:
    """An autocommit engine without a pool, as CREATE and DROP DATABASE need."""
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                         connect_args={"connect_timeout": CONNECT_TIMEOUT})


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def version_line(raw: str) -> str:
    """``PostgreSQL server: <SELECT version()>``, or why it could not be asked; never raises."""
    try:
        engine = admin_engine(server_url(raw))
        try:
            with engine.connect() as conn:
                return f"PostgreSQL server: {conn.execute(text('SELECT version()')).scalar_one()}"
        finally:
            engine.dispose()
    except (SQLAlchemyError, ValueError) as exc:
        return f"PostgreSQL server: not reachable: {_first_line(exc)}"


def _unavailable(reason: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{reason}; CI=true, so this fails instead of being skipped", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pg_only: run this db_url test on PostgreSQL only"
                            " (its SQLite case is deselected)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    dropped = [item for item in items if item.get_closest_marker("pg_only")
               and getattr(item, "callspec", None) is not None
               and item.callspec.params.get("db_url") == "sqlite"]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Engine]:
    """An autocommit engine on the test server, checked once per session; skips (fails in CI)
    when there is none."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        _unavailable(f"no PostgreSQL server: {ENV} is not set (./scripts/test starts one)")
    if raw.lower() == "skip":
        _unavailable(f"PostgreSQL skipped: {ENV}=skip")
    try:
        url = server_url(raw)
    except (ArgumentError, ValueError) as exc:
        _unavailable(f"{ENV} is not a usable PostgreSQL URL: {exc}")
    engine = admin_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        where = url.render_as_string(hide_password=True)
        _unavailable(f"PostgreSQL server {where} ({ENV}) is unreachable: {_first_line(exc)}")
    yield engine
    engine.dispose()


def fresh_database(admin: Engine) -> Iterator[str]:
    """Create an empty database ``t_<random>`` on the server, yield its URL, then drop it (and
    end any connection a test left open to it)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL to an empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'campaign.db'}"
    else:
        yield from fresh_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def pg_url(pg_server: Engine) -> Iterator[str]:
    """A SQLAlchemy URL to a fresh, empty PostgreSQL database (no SQLite case)."""
    yield from fresh_database(pg_server)
