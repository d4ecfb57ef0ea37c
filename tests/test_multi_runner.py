"""Four runners on one database record every letter exactly once (issue 7, item 1).

A shared deployment runs ``campaign run`` on several machines against one PostgreSQL (or, in a
small office, one SQLite file on a share). Four runner processes tick every day of
sourcing_2017 from 20 October to 20 December together, day by day as cron would start them,
while ``campaign letters send`` runs in between on some of them; two leads are forwarded on the
way so that forwarding and supervision letters appear as well as the reminders,
overdue notices and escalations. The letters must then be exactly those a single runner
records on a fresh database: the same (key, status, day) set, no key twice, every letter
claimed once and written to the outbox once.

Each runner is a separate OS process (``tests/kill_at.py``: the ``campaign`` CLI imported once,
one forked child per command), so the locks being tested are the database's, not Python's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.cli import main
from engine.store import definitions, records
from engine.store.db import connect
from engine.store.tables import leads, letters
from tests.conftest import CAMPAIGNS
from tests.kill_at import Launcher

CAMPAIGN = "sourcing_2017"
FIRST, LAST = date(2017, 10, 20), date(2017, 11, 26)  # reminders to supervision (23 Nov)
DAYS = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
RUNNERS = 4
SEND_EVERY = 3  # days between interleaved ``letters send`` runs
LEAD = {"right_holder": "某鞋业有限公司", "mark": "某某", "registration_number": "1234567",
        "right_holder_contact": "张三 13800000000", "suspected_infringer": "某商贸公司",
        "mark_usage": "在鞋面使用相同商标", "ownership_clear": True}
PLACES = {"JS-ZJ-1": ("浙江省杭州市上城区", "330102"), "JS-SH-1": ("上海市黄浦区", "310101")}
FORWARDS = {date(2017, 10, 30): "江苏省局", date(2017, 11, 8): "商标局"}
"""Day -> actor: up to the office on 30 October, down to the province of the place on 8 Nov."""

LetterSet = set[tuple[str, str, date]]


def cli(db_url: str, *args: str) -> None:
    result = CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def prepare(db_url: str) -> dict[str, int]:
    """Load the campaign and two consolidated Jiangsu leads about other provinces."""
    cli(db_url, "load", str(CAMPAIGNS / f"{CAMPAIGN}.yaml"))
    store = connect(db_url)
    def_id, _ = definitions.latest(store, CAMPAIGN)
    records.insert_records(store, "lead", CAMPAIGN, def_id, [
        records.NewRecord(key, {**LEAD, "infringement_place": place,
                                "infringement_division": code}, key, "jiangsu_amr")
        for key, (place, code) in PLACES.items()], actor="江苏省局", initial_state="consolidated")
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(leads.c.natural_key, leads.c.id)).all())
    store.engine.dispose()
    return ids


def forward_due(db_url: str, ids: dict[str, int], day: date) -> None:
    """What staff do that day, before the morning's runs: forward the leads one hop."""
    if day in FORWARDS:
        for lead in ids.values():
            cli(db_url, "lead", "forward", str(lead), "--at", day.isoformat(),
                "--actor", FORWARDS[day])


def letter_set(db_url: str) -> tuple[LetterSet, Counter[str], dict[int, int], dict[int, str],
                                     set[str]]:
    """(key, status, day) of every letter; how often each key occurs; attempts and outbox path
    of each sent letter by id; the kinds of letter seen."""
    store = connect(db_url)
    with store.engine.connect() as conn:
        rows = conn.execute(select(letters.c.id, letters.c.idempotency_key, letters.c.status,
                                   letters.c.planned_for, letters.c.attempts, letters.c.kind,
                                   letters.c.outbox_path)).all()
    store.engine.dispose()
    sent = [r for r in rows if r.status == "sent"]
    return ({(r.idempotency_key, r.status, r.planned_for) for r in rows},
            Counter(r.idempotency_key for r in rows), {r.id: r.attempts for r in sent},
            {r.id: r.outbox_path for r in sent}, {r.kind for r in rows})


def check_ok(answer: dict[str, object], what: str) -> None:
    assert answer["rc"] == 0, f"{what}: {answer}"


def single_run(db_url: str, outbox: Path) -> None:
    ids = prepare(db_url)
    with Launcher() as runner:
        for n, day in enumerate(DAYS):
            forward_due(db_url, ids, day)
            check_ok(runner.run(["run", "--at", day.isoformat(), "--db", db_url]), "single")
            if n % SEND_EVERY == 0:
                check_ok(runner.run(["letters", "send", "--outbox", str(outbox),
                                     "--db", db_url]), "single send")
        check_ok(runner.run(["letters", "send", "--outbox", str(outbox), "--db", db_url]),
                 "single final send")


def multi_run(db_url: str, outbox: Path) -> int:
    """Four runners in lock step, day by day; returns how many ticks ran."""
    ids = prepare(db_url)
    ticks = 0
    runners = [Launcher() for _ in range(RUNNERS)]
    try:
        for n, day in enumerate(DAYS):
            forward_due(db_url, ids, day)
            commands: list[list[list[str]]] = [[] for _ in runners]
            for k in range(RUNNERS):
                run = ["run", "--at", day.isoformat(), "--db", db_url]
                send = ["letters", "send", "--outbox", str(outbox), "--db", db_url]
                if n % SEND_EVERY == 0 and k in (n % RUNNERS, (n + 1) % RUNNERS):
                    # one sender before its tick (racing the others' ticks), one after
                    commands[k] = [send, run] if k == n % RUNNERS else [run, send]
                else:
                    commands[k] = [run]
            for runner, cmds in zip(runners, commands, strict=True):
                for argv in cmds:  # queued: each launcher works through its own in order
                    runner.send(argv)
            for runner, cmds in zip(runners, commands, strict=True):
                for argv in cmds:
                    check_ok(runner.receive(), f"{day} {argv[0]}")
                    ticks += argv[0] == "run"
        check_ok(runners[0].run(["letters", "send", "--outbox", str(outbox), "--db", db_url]),
                 "final send")
    finally:
        for runner in runners:
            runner.close()
    return ticks


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LetterSet]:
    """The single-runner letters on a fresh SQLite database, computed once for both backends."""
    where = tmp_path_factory.mktemp("single")
    url = f"sqlite:///{where / 'single.db'}"
    single_run(url, where / "outbox")
    found, keys, _, _, _ = letter_set(url)
    assert max(keys.values()) == 1
    yield found


def outbox_files(outbox: Path) -> Counter[int]:
    """How many letter files the outbox holds per letter id (the name starts with the id)."""
    return Counter(int(p.name.split("-")[0]) for p in outbox.rglob("*.md")
                   if not p.name.startswith(".tmp-"))


def test_four_runner_processes_and_interleaved_senders_record_each_letter_once(
        db_url: str, tmp_path: Path, reference: LetterSet) -> None:
    outbox = tmp_path / "outbox"
    started = time.monotonic()
    ticks = multi_run(db_url, outbox)
    took = time.monotonic() - started
    print(f"\n{db_url.split(':')[0]}: {ticks} ticks by {RUNNERS} runner processes over "
          f"{len(DAYS)} days in {took:.1f}s")
    found, keys, attempts, paths, kinds = letter_set(db_url)
    assert ticks == RUNNERS * len(DAYS)
    assert [k for k, n in keys.items() if n > 1] == []  # no key twice
    assert found == reference, (f"multi-runner only: {sorted(found - reference)[:5]}; "
                                f"single only: {sorted(reference - found)[:5]}")
    assert {"supervision", "forwarding", "reminder", "overdue", "escalation"} <= kinds, kinds
    assert {s for _, s, _ in found} == {"sent"}  # every day ran, so nothing was superseded
    assert [i for i, n in attempts.items() if n != 1] == []  # each letter claimed once
    files = outbox_files(outbox)
    assert set(files) == set(attempts) and set(files.values()) == {1}  # each file once
    assert all(Path(p).is_file() for p in paths.values())
