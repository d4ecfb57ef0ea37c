"""The tick and the lead import on PostgreSQL, on the same data as the SQLite run.

A throw-away database is created next to the one the URL names (so a shared test database is
never touched), the schema built by the engine's own migrations and the generated SQLite tables
copied in with ``COPY`` (not measured). It is then the template of the database each tick runs
on, re-created before every run, so the tick is timed as the SQLite one is: a daemon's next tick
(an earlier, untimed tick compiled the statements), best of several, each on untouched data.
Both databases are dropped after.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text

from bench.generate import Scenario
from bench.imports import import_rate, load_import_campaign
from bench.measures import warm_ticks
from bench.timing import Timing
from engine.store.tables import metadata

TABLES = tuple(t.name for t in metadata.sorted_tables)
"""Every table of the store, parents first: one left out (``obligation_syncs`` once was) would
leave the PostgreSQL tick with work the SQLite one no longer has, and the comparison unfair."""


def _copy(scenario: Scenario, url: str) -> None:
    """Every generated row into the PostgreSQL store, ids kept, sequences moved past them."""
    import psycopg

    src = sqlite3.connect(scenario.db_path)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as dst:
        dst.execute("SET TimeZone = 'UTC'")  # SQLite holds naive UTC text
        dst.execute("ALTER TABLE events DISABLE TRIGGER USER")  # the no-update trigger only
        for table in TABLES:
            cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
            bools = {r[0] for r in dst.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND data_type = 'boolean'", (table,))}
            flags = [c in bools for c in cols]
            with dst.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in src.execute(f"SELECT {', '.join(cols)} FROM {table}"):
                    copy.write_row([bool(v) if f and v is not None else v
                                    for v, f in zip(row, flags, strict=True)])
            if "id" in cols and table != "bodies":
                dst.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))")
        dst.execute("ALTER TABLE events ENABLE TRIGGER USER")
        dst.execute("ANALYZE")
    src.close()


def _recreate(admin: Engine, name: str, template: str | None = None) -> None:
    """``name`` afresh (from ``template``), its writes on disk before anything is timed."""
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if template is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            return
        # a file copy: the default (15+) WAL-logs every page, a gigabyte at 1M records
        strategy = " STRATEGY = FILE_COPY" if conn.dialect.server_version_info >= (15,) else ""
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}'))
        conn.execute(text("CHECKPOINT"))
    os.sync()  # a local server's copy would otherwise be written back during the timed tick


def pg_tick_time(scenario: Scenario, url: str, runs: int = 3) -> Timing:
    """The tick on a copy of ``scenario`` in PostgreSQL, timed as on SQLite (:func:`warm_ticks`),
    each run on a database re-created from the copy. Needs the rights to create databases and
    to ``CHECKPOINT`` (a superuser, or ``pg_checkpoint`` from PostgreSQL 15); all but ``url``'s
    are dropped after."""
    from engine.store.db import connect

    template, name = f"campaign_bench_{os.getpid()}_data", f"campaign_bench_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        _recreate(admin, template)
        data = make_url(url).set(database=template).render_as_string(hide_password=False)
        connect(data).engine.dispose()  # the schema, by the engine's migrations
        _copy(scenario, data)
        _recreate(admin, name, template)
        store = connect(make_url(url).set(database=name).render_as_string(hide_password=False))
        return warm_ticks(store, scenario, runs, lambda: _recreate(admin, name, template))
    finally:
        with admin.connect() as conn:
            for db in (name, template):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def pg_import_rate(path: Path, url: str, rows: int) -> float:
    """Rows/s of ``campaign lead import`` of ``path`` into a fresh PostgreSQL database."""
    name = f"campaign_bench_{os.getpid()}_import"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        _recreate(admin, name)
        target = make_url(url).set(database=name).render_as_string(hide_password=False)
        return import_rate(path, load_import_campaign(target), rows)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
