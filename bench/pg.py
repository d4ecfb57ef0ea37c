"""The tick on PostgreSQL, on the same data as the SQLite run.

A throw-away database is created next to the one the URL names (so a shared test database is
never touched), the schema built by the engine's own migrations, the generated SQLite tables
copied in with ``COPY`` (not measured), and one tick timed on it; the database is dropped after.
"""

from __future__ import annotations

import os
import sqlite3
import time

from sqlalchemy import create_engine, make_url, text

from bench.generate import CAMPAIGN, TICK_AT, Scenario

TABLES = ("definitions", "bodies", "leads", "cases", "events", "obligations", "submissions",
          "letters")


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


def pg_tick_time(scenario: Scenario, url: str) -> float:
    """Seconds of one tick on a copy of ``scenario`` in a fresh PostgreSQL database."""
    from engine.runtime.tick import tick
    from engine.store import definitions as defs
    from engine.store.db import connect

    name = f"campaign_bench_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    target = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        store = connect(target)
        _copy(scenario, target)
        defs.latest(store, CAMPAIGN)
        start = time.perf_counter()
        tick(store, CAMPAIGN, TICK_AT)
        elapsed = time.perf_counter() - start
        store.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return elapsed
