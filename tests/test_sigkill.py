"""SIGKILL at every step of a tick, an import and a send leaves no half state (issue 7, item 2).

``tests/test_crash.py`` kills by timing, which hits different points on different machines.
Here the kill point is chosen, not hoped for: ``tests/kill_at.py`` runs the ``campaign`` CLI in
a child process that SIGKILLs itself just before its N-th *step* (an SQL statement, a COMMIT, an
outbox file being renamed into place), and the tests walk N over the whole command:

- a tick: every step of a first tick (obligations synced, phases advanced with their audit
  events, reminders and a supervision letter planned), each kill followed by the next attempt,
  and then ten more days, each killed at a different step and rerun; after every kill the
  store is exactly as before the tick or exactly as after it, and the end equals a clean run;
- an import of 5,200 leads (a 5,000-row batch and another, so the later kill points fall while
  the file is still being read): afterwards zero or all rows and their audit events, never part;
- ``letters send`` with the file channel: no letter recorded as sent without its complete file;
  once the stale claims may be taken over, a rerun sends the rest, one file per letter.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, func, select, update
from sqlalchemy.pool import NullPool

from engine.cli import main
from engine.store import definitions, records
from engine.store.db import connect
from engine.store.tables import campaign_phases, events, leads, letters, obligations
from tests.conftest import CAMPAIGNS
from tests.kill_at import Launcher

CAMPAIGN = "sourcing_2017"
FIRST_TICK = date(2017, 11, 23)  # phases to catch up, overdue notices, a supervision letter
LATER = [FIRST_TICK + timedelta(days=n) for n in range(1, 12)]
LEAD = {"right_holder": "某鞋业有限公司", "mark": "某某", "registration_number": "1234567",
        "right_holder_contact": "张三 13800000000", "suspected_infringer": "某商贸公司",
        "infringement_place": "浙江省杭州市上城区", "infringement_division": "330102",
        "mark_usage": "在鞋面使用相同商标", "ownership_clear": True}
IMPORT_ROWS = 5200

State = tuple[Any, ...]


def cli(db_url: str, *args: str) -> None:
    result = CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def prepare(db_url: str) -> None:
    """The campaign, and a lead forwarded from Jiangsu via the office to Zhejiang."""
    cli(db_url, "load", str(CAMPAIGNS / f"{CAMPAIGN}.yaml"))
    store = connect(db_url)
    def_id, _ = definitions.latest(store, CAMPAIGN)
    records.insert_records(store, "lead", CAMPAIGN, def_id, [
        records.NewRecord("JS-ZJ-1", LEAD, "JS-ZJ-1", "jiangsu_amr")], actor="江苏省局",
        initial_state="consolidated")
    store.engine.dispose()
    cli(db_url, "lead", "forward", "1", "--at", "2017-10-30", "--actor", "江苏省局")
    cli(db_url, "lead", "forward", "1", "--at", "2017-11-08", "--actor", "商标局")


def peek(db_url: str) -> Engine:
    """An engine for looking at the store between runs: no pool, so no connection of the
    test's is left open while the runners work, and no schema check per look."""
    return create_engine(db_url, poolclass=NullPool)


def state(db_url: str) -> State:
    """Everything a tick writes, comparable across databases (no ids, no clock times)."""
    with peek(db_url).connect() as conn:
        found = (
            frozenset(conn.execute(select(letters.c.idempotency_key, letters.c.status,
                                          letters.c.planned_for)).all()),
            tuple(sorted(conn.execute(select(events.c.record_kind, events.c.trigger,
                                             events.c.to_state, func.count())
                                      .group_by(events.c.record_kind, events.c.trigger,
                                                events.c.to_state)).all())),
            tuple(conn.execute(select(campaign_phases.c.phase, campaign_phases.c.since)).all()),
            conn.scalar(select(func.count()).select_from(obligations)),
            tuple(conn.execute(select(leads.c.natural_key, leads.c.state, leads.c.body_id)
                               .order_by(leads.c.natural_key)).all()),
        )
    return found


def run_argv(db_url: str, day: date) -> list[str]:
    return ["run", "--at", day.isoformat(), "--campaign", CAMPAIGN, "--db", db_url]


@pytest.fixture(scope="module")
def launcher() -> Iterator[Launcher]:
    with Launcher() as it:
        yield it


@pytest.fixture(scope="module")
def clean_states(tmp_path_factory: pytest.TempPathFactory, launcher: Launcher) -> list[State]:
    """The store after preparing, after the first tick and after each later day, run cleanly
    by one runner on a fresh SQLite database (computed once, compared on both backends)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('clean') / 'clean.db'}"
    prepare(url)
    states = [state(url)]
    for day in [FIRST_TICK, *LATER]:
        assert launcher.run(run_argv(url, day))["rc"] == 0
        states.append(state(url))
    return states


def test_tick_killed_before_every_sql_statement_and_commit_leaves_all_or_nothing(
        db_url: str, launcher: Launcher, clean_states: list[State]) -> None:
    prepare(db_url)
    before, after = clean_states[0], clean_states[1]
    assert state(db_url) == before
    assert len(after[0]) > len(before[0]) and after[2] != before[2]  # letters and a phase
    kills = 0
    for n in range(1, 500):  # kill before step 1, 2, ... until a run gets to the end
        answer = launcher.run(run_argv(db_url, FIRST_TICK), kill_at=n)
        now = state(db_url)
        if answer["signal"] is None:
            assert answer["rc"] == 0, answer
            break
        kills += 1
        assert now == before, f"killed before step {n}: half a tick survived"
    else:
        pytest.fail("the tick never completed")
    print(f"\n{db_url.split(':')[0]}: first tick killed at each of its {kills} steps")
    assert kills > 20 and now == after  # every letter once, the phase events with them

    killed_at: list[int] = []
    for i, day in enumerate(LATER, start=2):  # ten days, each killed at another step
        n = 1 + (i * 7) % 19
        answer = launcher.run(run_argv(db_url, day), kill_at=n)
        if answer["signal"] is not None:
            killed_at.append(n)
        assert state(db_url) in (clean_states[i - 1], clean_states[i]), (day, n)
        assert launcher.run(run_argv(db_url, day))["rc"] == 0  # the next normal run
        assert state(db_url) == clean_states[i], (day, n)
    assert len(set(killed_at)) >= 10, killed_at


def write_leads(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("线索编号,报送单位,权利人,商标名称\n")
        fh.writelines(f"JS-{i:05d},jiangsu_amr,某公司{i},商标{i}\n" for i in range(rows))
    return path


def imported(db_url: str) -> tuple[int, int]:
    with peek(db_url).connect() as conn:
        rows = conn.scalar(select(func.count()).select_from(leads))
        created = conn.scalar(select(func.count()).select_from(events).where(
            events.c.record_kind == "lead", events.c.trigger == "create"))
    return rows, created


def test_import_killed_mid_file_at_every_statement_keeps_zero_or_all_rows(
        db_url: str, tmp_path: Path, launcher: Launcher) -> None:
    cli(db_url, "load", str(CAMPAIGNS / f"{CAMPAIGN}.yaml"))
    path = write_leads(tmp_path / "leads.csv", IMPORT_ROWS)
    argv = ["lead", "import", str(path), "--campaign", CAMPAIGN, "--actor", "江苏省局",
            "--db", db_url]
    kills = 0
    for n in range(1, 100):
        answer = launcher.run(argv, kill_at=n)
        if answer["signal"] is None:
            assert answer["rc"] == 0, answer
            break
        kills += 1
        assert imported(db_url) == (0, 0), f"killed before step {n}: part of the file imported"
    print(f"\n{db_url.split(':')[0]}: import of {IMPORT_ROWS} rows killed at each of its "
          f"{kills} steps")
    # at least the definition's lookup, one write per batch and the commit: so the walk also
    # killed it after its first batch was written (SQLite takes 13 steps, PostgreSQL, whose
    # batches go through COPY unseen and two statements each, takes 9)
    batches = -(-IMPORT_ROWS // records.BATCH)
    assert batches >= 2 and kills >= batches + 2
    assert imported(db_url) == (IMPORT_ROWS, IMPORT_ROWS)
    again = launcher.run(argv)
    assert again["rc"] == 0 and f"已存在 {IMPORT_ROWS} 条" in again["output"], again
    assert imported(db_url) == (IMPORT_ROWS, IMPORT_ROWS)


def reset_deliveries(db_url: str, outbox: Path) -> None:
    """Every letter back to planned and the outbox empty, for the next kill point."""
    shutil.rmtree(outbox, ignore_errors=True)
    with peek(db_url).begin() as conn:
        sent_or_on_the_way = letters.c.status.in_(("claimed", "sending", "sent"))
        conn.execute(update(letters).where(sent_or_on_the_way).values(
            status="planned", claimed_at=None, attempts=0, sent_at=None, outbox_path=None,
            channel=None, last_error=None, next_attempt_at=None))


def deliveries(db_url: str) -> list[Any]:
    with peek(db_url).connect() as conn:
        rows = conn.execute(select(letters.c.id, letters.c.status, letters.c.outbox_path,
                                   letters.c.body).where(letters.c.body.is_not(None))).all()
    return rows


def check_outbox(db_url: str, outbox: Path) -> dict[str, int]:
    """No letter sent without its whole file; every visible file whole. Returns the statuses."""
    rows = deliveries(db_url)
    bodies = {r.id: r.body for r in rows}
    for row in rows:
        if row.status == "sent":
            assert row.outbox_path and Path(row.outbox_path).read_text("utf-8") == row.body, row.id
    for path in outbox.rglob("*.md"):
        if not path.name.startswith(".tmp-"):  # a rename is atomic: no partial letter visible
            assert path.read_text("utf-8") == bodies[int(path.name.split("-")[0])], path
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    return statuses


def test_send_killed_mid_batch_never_records_a_letter_sent_without_its_file(
        db_url: str, tmp_path: Path, launcher: Launcher) -> None:
    cli(db_url, "load", str(CAMPAIGNS / f"{CAMPAIGN}.yaml"))
    assert launcher.run(run_argv(db_url, date(2017, 11, 20)))["rc"] == 0
    outbox = tmp_path / "outbox"
    argv = ["letters", "send", "--outbox", str(outbox), "--db", db_url]
    clean = launcher.run(argv)
    assert clean["rc"] == 0, clean
    total, steps = len(deliveries(db_url)), clean["steps"]
    assert total > 50 and check_outbox(db_url, outbox) == {"sent": total}
    points = sorted({1, 2, 3, 4, 5, steps - 1, *range(6, steps, max(steps // 12, 1))})
    for n in points:
        reset_deliveries(db_url, outbox)
        answer = launcher.run(argv, kill_at=n)
        assert answer["signal"] is not None, (n, answer)
        statuses = check_outbox(db_url, outbox)
        assert set(statuses) <= {"planned", "claimed", "sending", "sent"}, statuses
        assert statuses.get("sending", 0) <= 1, statuses  # only the one being handed over
        with peek(db_url).begin() as conn:  # half an hour on, the dead sender's claims are stale
            conn.execute(update(letters).where(letters.c.status.in_(("claimed", "sending")))
                         .values(claimed_at=datetime.now(UTC) - timedelta(hours=1)))
        rerun = launcher.run(argv)
        assert rerun["rc"] == 0, rerun
        assert check_outbox(db_url, outbox) == {"sent": total}, n
        files = [p for p in outbox.rglob("*.md") if not p.name.startswith(".tmp-")]
        assert sorted(int(p.name.split("-")[0]) for p in files) == sorted(
            r.id for r in deliveries(db_url))  # one file per letter
    print(f"\n{db_url.split(':')[0]}: send of {total} letters killed at steps {points}")
