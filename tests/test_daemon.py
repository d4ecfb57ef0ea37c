"""`campaign daemon` as operators run it: a real process, a real database (SQLite and PostgreSQL),
signals. The daemon logs one JSON object a line (``--log-format json``); ticks are counted by
their ``event: tick`` lines, never by letters, since the tick reads the real clock."""

from __future__ import annotations

import json
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.pool import NullPool

from engine.cli import main
from engine.runtime import daemon
from engine.store.db import connect
from engine.store.tables import letters
from tests.conftest import CAMPAIGNS

WAIT = 30.0  # seconds; generous for a loaded CI machine, a healthy daemon needs about one
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Daemon:
    """``campaign daemon`` in a subprocess, its stderr parsed as JSON lines as they come."""

    def __init__(self, db_url: str, cwd: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "CAMPAIGN_DB"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "daemon", "--db", db_url, "--log-format",
             "json", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8")
        self.raw: list[str] = []
        self.lines: list[dict[str, Any]] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line)
        self._queue.put(None)

    def _take(self, timeout: float) -> bool:
        line = self._queue.get(timeout=timeout)
        if line is None:
            return False
        self.raw.append(line)
        with suppress(json.JSONDecodeError):  # a traceback or a stray print stays in raw
            self.lines.append(json.loads(line))
        return True

    def wait_for(self, event: str) -> dict[str, Any]:
        deadline = datetime.now() + timedelta(seconds=WAIT)
        while not (found := self.events(event)):
            left = (deadline - datetime.now()).total_seconds()
            try:
                if left <= 0 or not self._take(left):
                    break
            except queue.Empty:
                break
        assert found, f"no {event!r} line from the daemon:\n{''.join(self.raw)}"
        return found[0]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == event]

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig``, wait for the exit, read what is left; the exit code."""
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=WAIT)
        while self._take(WAIT):
            pass
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout.read()
        return code

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start(db_url: str, tmp_path: Path, *args: str) -> Daemon:
    """A started daemon (its start-up line seen)."""
    d = Daemon(db_url, tmp_path, *args)
    d.wait_for("started")
    return d


def cycle(db_url: str, tmp_path: Path, *args: str) -> Daemon:
    """Start a daemon, stop it with SIGTERM, check it went cleanly; it, for its log."""
    with start(db_url, tmp_path, *args) as d:
        assert d.stop() == 0, "".join(d.raw)
    return d


def job_rows(db_url: str) -> list[Any]:
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(
                f"SELECT id, next_run_time, job_state FROM {daemon.JOB_TABLE}")))
    finally:
        engine.dispose()


def the_job(db_url: str) -> dict[str, Any]:
    rows = job_rows(db_url)
    assert [r.id for r in rows] == [daemon.JOB_ID]
    state = pickle.loads(rows[0].job_state)
    assert rows[0].next_run_time == state["next_run_time"].timestamp()  # column and state agree
    return state


def backdate(db_url: str, days: int) -> None:
    """What a daemon down for ``days`` days leaves behind: a next run that long in the past."""
    state = the_job(db_url)
    state["next_run_time"] -= timedelta(days=days)
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {daemon.JOB_TABLE} SET next_run_time = :t, job_state = :s"),
                     {"t": state["next_run_time"].timestamp(), "s": pickle.dumps(state)})
    engine.dispose()


def cron_fields(state: dict[str, Any]) -> dict[str, str]:
    return {f.name: str(f) for f in state["trigger"].fields if not f.is_default}


@pytest.fixture
def loaded(db_url: str) -> str:
    result = CliRunner().invoke(main, ["load", str(CAMPAIGNS / "sourcing_2017.yaml"), "--db",
                                       db_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return db_url


def test_one_job_in_the_same_database_at_0830_shanghai_replaced_on_restart(
        loaded: str, tmp_path: Path) -> None:
    cycle(loaded, tmp_path)
    state = the_job(loaded)
    assert state["func"] == daemon.JOB_FUNC and state["args"] == () and state["kwargs"] == {}
    assert (state["coalesce"], state["misfire_grace_time"], state["max_instances"]) == \
        (True, None, 1)
    assert cron_fields(state) == {"hour": "8", "minute": "30"}
    assert str(state["trigger"].timezone) == "Asia/Shanghai"
    due = state["next_run_time"].astimezone(SHANGHAI)
    assert (due.hour, due.minute) == (8, 30) and due > datetime.now(UTC)

    cycle(loaded, tmp_path, "--at", "9:15")  # a new schedule replaces the job, never adds one
    assert cron_fields(the_job(loaded)) == {"hour": "9", "minute": "15"}


def test_after_three_days_down_exactly_one_catch_up_tick_runs(loaded: str,
                                                              tmp_path: Path) -> None:
    cycle(loaded, tmp_path)
    backdate(loaded, days=3)
    with start(loaded, tmp_path) as d:
        assert d.wait_for("catch-up")
        assert d.wait_for("tick")["status"] == "ok"
        assert d.stop() == 0  # waits for the executor: any further catch-up would be logged
    assert len(d.events("tick")) == 1, "".join(d.raw)
    assert the_job(loaded)["next_run_time"] > datetime.now(UTC)  # back on schedule
    with connect(loaded).engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(letters)) > 0  # the tick wrote

    again = cycle(loaded, tmp_path)  # caught up: the next start has nothing to catch up on
    assert not again.events("catch-up") and not again.events("tick")


def test_a_tick_with_nothing_loaded_is_a_warning_and_the_daemon_lives_on(
        db_url: str, tmp_path: Path) -> None:
    cycle(db_url, tmp_path)
    backdate(db_url, days=1)
    with start(db_url, tmp_path) as d:
        tick = d.wait_for("tick")
        assert (tick["status"], tick["level"]) == ("empty", "WARNING")
        assert "campaign load" in tick["message"]
        assert d.proc.poll() is None
        assert d.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_it_cleanly_with_exit_0(tmp_path: Path, sig: signal.Signals) -> None:
    """On SQLite only: stopping is the same code on either database (the catch-up test stops a
    daemon on PostgreSQL too)."""
    with start(f"sqlite:///{tmp_path / 'campaign.db'}", tmp_path) as d:
        code = d.stop(sig)
    assert code == 0, "".join(d.raw)
    assert d.events("stopped")[0]["signal"] == sig.name
    assert d.stdout == "" and "Traceback" not in "".join(d.raw)


def test_the_database_url_is_neither_stored_nor_printed(db_url: str, tmp_path: Path) -> None:
    """On PostgreSQL with a password in the URL (the test server trusts, so any is accepted);
    on SQLite only the file path, which must not reach the job state either."""
    secret = "fake-s3cret-pw"
    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":
        db_url = url.set(password=secret).render_as_string(hide_password=False)
    d = cycle(db_url, tmp_path)
    raw_state = job_rows(db_url)[0].job_state
    assert secret not in "".join(d.raw) + d.stdout
    assert secret.encode() not in raw_state and str(url.database).encode() not in raw_state
    if url.get_backend_name() == "postgresql":
        assert "***" in d.events("started")[0]["database"]


def test_sigterm_during_a_tick_lets_the_tick_finish_first(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process (pytest runs tests on the main thread, where signals land): a slow tick,
    SIGTERM halfway through it, and run() returns only after the tick has finished."""
    started, steps = threading.Event(), []

    def slow_tick(*_args: object) -> list[object]:
        started.set()
        time.sleep(1.0)
        steps.append("tick finished")
        return []

    def terminate() -> None:
        if started.wait(WAIT):
            steps.append("SIGTERM sent")
            os.kill(os.getpid(), signal.SIGTERM)  # the handler is in place once a tick runs

    monkeypatch.setattr(daemon, "run_campaigns", slow_tick)
    monkeypatch.setattr(daemon, "stored_next_run", lambda _jobs: datetime.now(UTC) - timedelta(
        days=1))  # a missed run, so a catch-up tick starts at once
    sender = threading.Thread(target=terminate)
    sender.start()
    assert daemon.run(connect(db_url), daemon.schedule()) == "SIGTERM"
    steps.append("run returned")
    sender.join()
    assert steps == ["SIGTERM sent", "tick finished", "run returned"]


def test_a_failing_tick_is_logged_and_does_not_raise(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(daemon, "_process", daemon._Process(connect(db_url), SHANGHAI))
    monkeypatch.setattr(daemon, "run_campaigns", broken)
    with caplog.at_level(logging.INFO, logger="engine.daemon"):
        daemon.scheduled_tick()  # must not raise: the scheduler would only log it, less clearly
    [record] = [r for r in caplog.records if getattr(r, "fields", {}).get("event") == "tick"]
    assert record.levelno == logging.ERROR and record.exc_info is not None


def test_the_schedule_options() -> None:
    monday = datetime(2026, 3, 2, 12, 0, tzinfo=SHANGHAI)
    weekdays = daemon.schedule(cron="30 8 * * 1-5")  # crontab weekdays: 1-5 is Monday-Friday
    saturday = monday + timedelta(days=5)
    assert weekdays.get_next_fire_time(None, saturday) == monday.replace(day=9, hour=8,
                                                                         minute=30)
    assert daemon.crontab_weekdays("0") == daemon.crontab_weekdays("7") == "sun"
    assert daemon.crontab_weekdays("*/2") == "sun,tue,thu,sat"
    assert daemon.crontab_weekdays("mon-fri,sun") == "sun,mon,tue,wed,thu,fri"
    assert daemon.crontab_weekdays("0-6") == "*"
    berlin = daemon.schedule(at="07:05", timezone="Europe/Berlin")
    assert str(berlin.timezone) == "Europe/Berlin"
    for bad in [{"at": "25:00"}, {"at": "8"}, {"cron": "30 8 * *"}, {"cron": "30 8 * * 8"},
                {"cron": "30 8 * * 5-1"}, {"at": "08:30", "cron": "30 8 * * *"},
                {"timezone": "Mars/Olympus"}]:
        with pytest.raises(ValueError):
            daemon.schedule(**bad)
    result = CliRunner().invoke(main, ["daemon", "--at", "25:00", "--db", "sqlite://"])
    assert result.exit_code == 2 and "HH:MM" in result.output
