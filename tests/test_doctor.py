"""``campaign doctor`` says what is wrong with a deployment and what to fix (issue 7, item 5).

Covered: a healthy SQLite database (every check runs, exit 0, nothing written), the calendar
check against the years the installed chinese-calendar knows, a database left
at an old schema version (an error naming ``campaign db upgrade``, and the doctor does not upgrade
it itself), an unreachable PostgreSQL server whose URL holds a password (an error that never
prints the password, in text or JSON), a missing SQLite file (reported, not created), an
outbox that cannot be written, and a PostgreSQL role whose bulk writes take the slow path.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import create_engine

from engine.cli import main
from engine.ops.doctor import Level, check_calendar
from engine.spec import workdays
from engine.store import migrate
from engine.store.db import connect
from tests.conftest import CAMPAIGNS
from tests.conftest_helpers import role_without_temp

SECRET = "s3cret-Pw-9"


def doctor(*args: str) -> Result:
    return CliRunner().invoke(main, ["doctor", *args], catch_exceptions=False)


@pytest.fixture
def calendar_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed chinese-calendar as a healthy deployment keeps it: knowing this year and
    the next. The real package stops at the last year the State Council has announced, so
    without this a healthy deployment's test would fail every January until its release."""
    this_year = datetime.now(UTC).year
    monkeypatch.setattr(workdays, "known_years", lambda: (2004, this_year + 1))


@pytest.mark.usefixtures("calendar_up_to_date")
def test_a_healthy_sqlite_database_passes_every_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    assert CliRunner().invoke(main, ["load", str(CAMPAIGNS / "sourcing_2017.yaml"), "--db",
                                     url]).exit_code == 0
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    said = doctor("--db", url, "--outbox", str(outbox), "--format", "json")
    assert said.exit_code == 0, said.output
    found = json.loads(said.output)
    levels = {c["name"]: c["level"] for c in found["checks"]}
    assert found["ok"] is True and "error" not in levels.values()
    assert set(levels) == {"数据库连接", "数据库结构版本", "调度任务", "时区数据",
                           "法定节假日日历", "文书模板", "发件目录"}
    assert levels["数据库连接"] == levels["数据库结构版本"] == levels["时区数据"] == "ok"
    assert levels["调度任务"] == "warning"  # no daemon has run here: said, not an error
    assert list(outbox.iterdir()) == []  # the write probe cleaned up after itself
    text = doctor("--db", url)
    assert text.exit_code == 0 and "[正常] 数据库结构版本" in text.output


@pytest.mark.parametrize(("years_after_last", "level", "says"), [
    (-1, Level.OK, "收录"),
    (0, Level.WARNING, "不含明年"),
    (1, Level.ERROR, "不含今年"),
])
def test_the_calendar_check_warns_in_the_last_year_the_package_knows_and_fails_after_it(
        years_after_last: int, level: Level, says: str) -> None:
    last = workdays.known_years()[1]
    found = check_calendar(date(last + years_after_last, 6, 1))
    assert found.level is level and says in found.message
    assert level is Level.OK or "pip install -U chinese-calendar" in found.fix


def test_an_old_schema_is_an_error_that_says_to_upgrade_and_is_left_alone(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0003")
    said = doctor("--db", url)
    assert said.exit_code == 1
    assert "[错误] 数据库结构版本" in said.output and "campaign db upgrade" in said.output
    assert migrate.current(engine) == "0003"  # the doctor diagnoses, it does not treat
    engine.dispose()


def test_an_unreachable_postgresql_server_is_reported_without_its_password() -> None:
    url = f"postgresql+psycopg://campaign:{SECRET}@127.0.0.1:1/campaign"
    for fmt in ("text", "json"):
        said = doctor("--db", url, "--format", fmt)
        assert said.exit_code == 1, said.output
        assert SECRET not in said.output
        assert "127.0.0.1" in said.output and "***" in said.output
    assert "无法连接数据库" in said.output
    assert json.loads(said.output)["ok"] is False


def test_a_missing_sqlite_file_is_reported_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    said = doctor("--db", f"sqlite:///{missing}")
    assert said.exit_code == 1 and "数据库文件不存在" in said.output
    assert not missing.exists()


def test_an_outbox_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    CliRunner().invoke(main, ["db", "upgrade", "--db", url])
    blocker = tmp_path / "outbox"
    blocker.write_text("not a folder")
    said = doctor("--db", url, "--outbox", str(blocker))
    assert said.exit_code == 1 and "[错误] 发件目录" in said.output


@pytest.mark.usefixtures("calendar_up_to_date")
def test_a_postgresql_role_without_temporary_tables_is_warned_of_slower_bulk_writes(
        pg_url: str) -> None:
    connect(pg_url).engine.dispose()  # the schema, as the server's superuser
    fast = json.loads(doctor("--db", pg_url, "--format", "json").output)["checks"]
    assert [c["level"] for c in fast if c["name"] == "批量写入"] == ["ok"]
    with role_without_temp(pg_url) as limited:
        result = doctor("--db", limited, "--format", "json")
    found = [c for c in json.loads(result.output)["checks"] if c["name"] == "批量写入"]
    assert [c["level"] for c in found] == ["warning"] and result.exit_code == 0
    assert "不能在库" in found[0]["message"] and "GRANT TEMPORARY" in found[0]["fix"]
