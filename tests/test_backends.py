"""The database fixtures of tests/backends.py: a real, empty database on SQLite and PostgreSQL,
and the PostgreSQL half skipped without a server, except in CI, where it fails."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url

from tests.conftest import ROOT

# Until tests/conftest.py loads it for every test. Not imported here by name: a module imported
# before pytest loads it as a plugin cannot have its asserts rewritten, and pytest warns.

ENV = "CAMPAIGN_TEST_PG"

CHINESE = "苏州市市场监督管理局：督办函（第3号），请于7日内书面报告整改情况。"


def test_round_trip_of_chinese_text(db_url: str) -> None:
    engine = create_engine(db_url)
    meta = MetaData()
    notes = Table("notes", meta, Column("id", Integer, primary_key=True),
                  Column("body", Text, nullable=False))
    try:
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(notes.insert(), [{"body": CHINESE}, {"body": "第二条"}])
        with engine.connect() as conn:
            rows = conn.execute(select(notes.c.body).order_by(notes.c.id)).scalars().all()
            length = conn.execute(select(func.length(notes.c.body)).where(notes.c.id == 1))
            assert rows == [CHINESE, "第二条"]
            assert length.scalar_one() == len(CHINESE)  # characters, not bytes
        assert inspect(engine).get_table_names() == ["notes"]
    finally:
        engine.dispose()


def test_the_backend_is_the_one_named(db_url: str, tmp_path: Path) -> None:
    url = make_url(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            if url.get_backend_name() == "sqlite":
                assert conn.execute(text("SELECT sqlite_version()")).scalar_one()
                conn.execute(text("CREATE TABLE t (x INTEGER)"))
                conn.commit()
                assert Path(url.database or "") == tmp_path / "campaign.db"
                assert (tmp_path / "campaign.db").is_file()  # a real file, not :memory:
            else:
                assert url.get_backend_name() == "postgresql"
                assert url.drivername == "postgresql+psycopg"
                version = conn.execute(text("SELECT version()")).scalar_one()
                assert version.startswith("PostgreSQL "), version
                assert conn.execute(text("SHOW server_encoding")).scalar_one() == "UTF8"
    finally:
        engine.dispose()


_SEEN_DATABASES: list[str] = []


@pytest.mark.parametrize("attempt", [1, 2])
def test_each_postgresql_test_gets_its_own_empty_database(pg_url: str, attempt: int) -> None:
    """Both attempts create the same table: had they shared a database, the second would see it."""
    name = make_url(pg_url).database
    assert name and name.startswith("t_") and name != "campaign_test"
    assert name not in _SEEN_DATABASES
    _SEEN_DATABASES.append(name)
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar_one() == name
            tables = conn.execute(text(
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")).scalar_one()
            assert tables == 0
            conn.execute(text("CREATE TABLE marker (attempt integer)"))
            conn.execute(text("INSERT INTO marker VALUES (:a)"), {"a": attempt})
    finally:
        engine.dispose()


# --- the fixtures as another test file sees them, in a pytest of its own -----------------------

INNER = '''
import os
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def record(url):
    with open(os.environ["INNER_RECORD"], "a", encoding="utf-8") as out:
        out.write(f"{make_url(url).database}\\n")


def test_any(db_url):
    record(db_url)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    # engine left undisposed on purpose: dropping the database must still work


@pytest.mark.pg_only
def test_pg(db_url):
    assert db_url.startswith("postgresql+psycopg://")
    record(db_url)
'''


def run_inner(tmp_path: Path, pg: str | None, ci: bool) -> tuple[dict[str, tuple[str, str]], str]:
    """Run INNER with ``-p tests.backends``; return {test id: (outcome, message)} and its output."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_inner.py").write_text(INNER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in {ENV, "CI", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST"}}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["INNER_RECORD"] = str(tmp_path / "databases.txt")
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # hypothesis and co. only slow it down
    if pg is not None:
        env[ENV] = pg
    if ci:
        env["CI"] = "true"
    report = tmp_path / "report.xml"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.backends", "-p", "no:cacheprovider",
         "--strict-markers", "-q", "-rA", f"--junit-xml={report}",
         f"--basetemp={tmp_path / 'tmp'}", "test_inner.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in {"failure", "error", "skipped"}:
                outcome = {"failure": "failed", "error": "error"}.get(child.tag, "skipped")
                message = child.get("message", "")
                break
        outcomes[case.get("name", "")] = (outcome, message)
    return outcomes, out.stdout + out.stderr


def refused_url() -> str:
    """A PostgreSQL URL on a loopback port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/campaign_test"


@pytest.mark.parametrize(("pg", "ci", "outcome", "says"), [
    (None, False, "skipped", f"{ENV} is not set"),
    (None, True, "error", "CI=true"),
    ("skip", False, "skipped", f"{ENV}=skip"),
    ("skip", True, "error", "CI=true"),
    ("refused", False, "skipped", "unreachable"),
    ("refused", True, "error", "unreachable"),
], ids=["unset", "unset-ci", "skip", "skip-ci", "unreachable", "unreachable-ci"])
def test_without_a_server_postgresql_is_skipped_but_fails_in_ci(
        tmp_path: Path, pg: str | None, ci: bool, outcome: str, says: str) -> None:
    outcomes, output = run_inner(tmp_path, refused_url() if pg == "refused" else pg, ci)
    assert set(outcomes) == {"test_any[sqlite]", "test_any[postgresql]", "test_pg[postgresql]"}, \
        output
    assert outcomes["test_any[sqlite]"][0] == "passed", output
    for case in ("test_any[postgresql]", "test_pg[postgresql]"):
        assert outcomes[case][0] == outcome, output
        assert says in outcomes[case][1], output


def test_with_a_server_every_case_passes_and_its_database_is_dropped(
        tmp_path: Path, pg_server: Engine) -> None:
    server = pg_server.url.render_as_string(hide_password=False)
    outcomes, output = run_inner(tmp_path, server, ci=True)
    assert outcomes == {case: ("passed", "") for case in
                        ("test_any[sqlite]", "test_any[postgresql]", "test_pg[postgresql]")}, \
        output
    assert "1 deselected" in output  # test_pg[sqlite], by the pg_only marker
    made = (tmp_path / "databases.txt").read_text(encoding="utf-8").split()
    pg_made = [name for name in made if name.startswith("t_")]
    assert len(pg_made) == 2 and len(set(pg_made)) == 2, made
    with pg_server.connect() as conn:
        left = conn.execute(text("SELECT datname FROM pg_database WHERE datname = ANY(:names)"),
                            {"names": pg_made}).scalars().all()
    assert left == []
