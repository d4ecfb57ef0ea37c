"""The measurements, each returning seconds (or rows/s, or KB) of real engine code paths.

Every tick measurement runs on a fresh copy of the generated database (copying is not timed),
because a tick writes its letters and a second tick on the same file would find nothing due.
The definition is parsed once before timing: a daemon's tick reuses it (``definitions._loaded``);
the cold ``campaign run`` process is measured separately in ``tick_process``.
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import (
    AbstractContextManager,
    contextmanager,
    nullcontext,
    redirect_stderr,
    redirect_stdout,
)
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.generate import CAMPAIGN, ROOT, TICK_AT, TICK_DAY, Scenario, province_ids
from engine.letters.context import cn_date, cn_date_written, cn_period

if TYPE_CHECKING:
    from engine.store.db import Store

PYTHON = sys.executable


@dataclass(frozen=True)
class Timing:
    """The best and median of several runs; the best is what the table compares."""

    best: float
    median: float
    runs: int


def interleaved(measures: dict[str, Callable[[], float]], runs: int) -> dict[str, Timing]:
    """Each measure once per round, for ``runs`` rounds; each one's best and median.

    On this shared machine a slow spell lasts longer than a run: measured five runs at a time,
    one whole run of the benchmark found the tick at 73-75 ms in all ten of its runs (100k and
    1M) and the floor, measured after them, at its usual 24 ms; the next whole run found the
    tick at 50-53. Taken in turns, a figure and its reference share such spells; the order
    turns too, round by round, so that none of them always runs first (or just after the
    costly one)."""
    times: dict[str, list[float]] = {name: [] for name in measures}
    names = list(measures)
    for round_ in range(runs):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(measures[name]())
    return {name: Timing(min(t), statistics.median(t), runs) for name, t in times.items()}


def _fresh_copy(src: Path, tag: str) -> Path:
    dst = src.with_name(f"{src.stem}.{tag}.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    os.sync()  # the copy's writeback (half a GB at 1M) would otherwise land in the timed run
    return dst


def _repeat(fn: Callable[[int], float], runs: int) -> Timing:
    times = [fn(i) for i in range(runs)]
    return Timing(min(times), statistics.median(times), runs)


class PlainLetters:
    """A stand-in renderer writing a one-line text like the floor's (diagnostic only: it
    shows how much of the tick is rendering the real letters through their templates)."""

    def render(self, kind: str, context: dict[str, Any]) -> str:
        return f"# {kind}\n\n{context['recipient']}：{context.get('due')}"

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()


def tick_time(scenario: Scenario, runs: int = 3, *, profile: Path | None = None,
              plain_letters: bool = False) -> Timing:
    """The SQLite tick, timed by :func:`warm_ticks`, each run on a fresh copy of the database
    under the same path. ``profile``: write the first timed run's cProfile there;
    ``plain_letters``: one-line letters instead of the templates (the diagnostic row)."""
    from engine.runtime import tick as tick_module
    from engine.store.db import connect

    real_renderer = tick_module.renderer_for
    db = _fresh_copy(scenario.db_path, "tick")

    @contextmanager
    def around(i: int) -> Iterator[None]:
        prof = None
        if profile is not None and i == 0:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        if plain_letters:
            tick_module.renderer_for = lambda _definition: PlainLetters()  # type: ignore
        try:
            yield
        finally:
            tick_module.renderer_for = real_renderer
            if prof is not None:
                prof.disable()
                prof.dump_stats(str(profile))

    return warm_ticks(connect(f"sqlite:///{db}"), scenario, runs,
                      lambda: _fresh_copy(scenario.db_path, "tick"), around)


def warm_ticks(store: Store, scenario: Scenario, runs: int, restore: Callable[[], object],
               around: Callable[[int], AbstractContextManager[None]] | None = None) -> Timing:
    """``tick(store, campaign, at)`` as a daemon's next tick runs it: one engine and one parsed
    definition for every run, the statements compiled by an earlier (untimed) tick. Before
    each run the engine's pool is emptied and ``restore`` puts the untouched data back, so
    nothing read by one run is still held for the next; ``around(i)`` wraps timed run ``i``."""
    from engine.runtime.tick import tick
    from engine.store import definitions as defs

    expected = sum(scenario.due.values()) - scenario.due["decided cases (fire close)"]

    def once(i: int) -> float:
        store.engine.dispose()
        restore()
        with store.engine.connect() as conn:  # the pool holds a connection, as a daemon's does
            conn.exec_driver_sql("SELECT 1")
        defs.latest(store, CAMPAIGN)  # the definition parsed outside the clock
        with around(i) if around is not None else nullcontext():
            start = time.perf_counter()
            summary = tick(store, CAMPAIGN, TICK_AT)
            elapsed = time.perf_counter() - start
        if summary.sent != expected:
            raise AssertionError(f"tick sent {summary.sent} letters, expected {expected}")
        return elapsed

    try:
        once(-1)  # the earlier tick: compiles the statements
        return _repeat(once, runs)
    finally:
        store.engine.dispose()


def tick_process(scenario: Scenario) -> float:
    """Wall time of a cold ``campaign run --at`` process on a fresh copy (YAML parse included)."""
    db = _fresh_copy(scenario.db_path, "cold")
    start = time.perf_counter()
    subprocess.run([PYTHON, "-m", "engine.cli", "run", "--at", TICK_DAY.isoformat(),
                    "--campaign", CAMPAIGN, "--db", f"sqlite:///{db}"], check=True,
                   capture_output=True)
    return time.perf_counter() - start


def floor_time(scenario: Scenario, runs: int = 3, *, one_line: bool = False) -> Timing:
    """The same due queries, letter inserts and state moves, with ``sqlite3`` and nothing else:
    timed records through ``ix_*_campaign_state`` without those whose timer letter is written
    (the engine's query, see ``engine/runtime/timed.py``), owing obligations through
    ``ix_obligations_status_due``, ``INSERT OR IGNORE`` on the idempotency key, and the
    ``fire`` moves as a guarded UPDATE plus an audit event.

    The letters are f-strings that say, byte for byte, what the engine's templates say
    (:class:`FloorWords`; the smoke test holds the two equal), so that the floor writes the
    same rows. ``one_line``: the earlier reference's one-line texts instead, a sixth of the
    bytes (shown beside, for comparison)."""
    words = None if one_line else floor_words(scenario)

    def once(i: int) -> float:
        db = _fresh_copy(scenario.db_path, f"floor{i}")
        conn = sqlite3.connect(db, isolation_level=None)
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            conn.execute(f"PRAGMA {pragma}")
        start = time.perf_counter()
        sent = _floor_tick(conn, TICK_DAY, words)
        elapsed = time.perf_counter() - start
        conn.close()
        expected = sum(scenario.due.values())
        if sent != expected:
            raise AssertionError(f"floor wrote {sent} letters, expected {expected}")
        return elapsed

    return _repeat(once, runs)


TIMERS = (("lead", "leads", "forwarded", 15, "forwarded_unopened", None),
          ("lead", "leads", "assigned", 15, "assigned_unopened", None),
          ("case", "cases", "investigating", 30, "case_feedback", None),
          ("case", "cases", "decided", 20, "decided_autoclose", "closed"))
"""(kind, table, state, after_days, timer id, state a ``fire`` timer moves to)."""


def _local(stamp: str) -> date:
    """Campaign-local day (UTC+8) of a stored naive-UTC timestamp."""
    return (datetime.fromisoformat(stamp) + timedelta(hours=8)).date()


@dataclass(frozen=True)
class FloorWords:
    """What the floor's letters say, read from the loaded definition before the clock starts,
    as a hand-written script would keep it in its configuration."""

    names: dict[str, str]  # body id -> name
    states: dict[tuple[str, str], str]  # (record kind, state) -> its name
    sources: dict[str, str]  # timer id -> the paragraph it rests on
    reports: dict[str, tuple[str, str, str]]  # report id -> title, paragraph, sender's name
    document: str  # 《title》（doc number
    foot: str  # the contacts block, before the sender
    issuers: str  # the sender of a supervision letter
    written: str  # the date at the foot


def floor_words(scenario: Scenario) -> FloorWords:
    from engine.spec.bodies import name_on
    from engine.store import definitions as defs
    from engine.store.db import connect

    store = connect(scenario.url)
    _, definition = defs.latest(store, CAMPAIGN)
    store.engine.dispose()
    c, index = definition.campaign, definition.bodies
    names = {body.id: name_on(body, TICK_DAY) for body in index.bodies.values()}
    lifecycles = c.lifecycles
    assert lifecycles is not None
    states, sources = {}, {}
    for kind in ("lead", "case"):
        life = getattr(lifecycles, kind)
        states.update({(kind, st.id): st.name for st in life.states})
        sources.update({tm.id: str(tm.source) for tm in life.timers})
    contacts = "".join(f"- {ct.name}，电话：{ct.phone}，电子邮箱：{ct.email}\n"
                       for ct in c.contacts)
    return FloorWords(
        names, states, sources,
        {r.id: (r.title, str(r.source), names.get(str(r.to), str(r.to))) for r in c.reports},
        f"《{c.title}》（{c.doc_number}，", f"\n\n联系人：\n{contacts}\n",
        "、".join(names.get(i, i) for i in c.issuer), cn_date_written(TICK_DAY))


def _floor_tick(conn: sqlite3.Connection, today: date, words: FloorWords | None = None) -> int:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    insert = ("INSERT OR IGNORE INTO letters (idempotency_key, campaign_id, kind, recipient_id,"
              " obligation_id, record_kind, record_id, step, planned_for, status, subject, body,"
              " created_at, attempts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,0)")
    written = 0
    conn.execute("BEGIN IMMEDIATE")
    for kind, table, state, days, timer, dest in TIMERS:
        cutoff = (datetime.combine(today - timedelta(days=days - 1), datetime.min.time())
                  - timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
        # records whose timer letter for this stay is not written yet (the engine's query)
        prefix = f"{CAMPAIGN}:timer:{timer}:{kind}:"
        rows = conn.execute(f"SELECT id, natural_key, body_id, state_since, row_version FROM "
                            f"{table} r WHERE campaign_id=? AND state=? AND state_since<? AND "
                            "NOT EXISTS (SELECT 1 FROM letters WHERE idempotency_key = ? || "
                            "r.id || ':' || date(r.state_since, '+480 minutes'))",
                            (CAMPAIGN, state, cutoff, prefix)).fetchall()
        for rid, ref, body, since, version in rows:
            day = _local(since)
            if day + timedelta(days=days) > today:
                continue
            key = f"{CAMPAIGN}:timer:{timer}:{kind}:{rid}:{day.isoformat()}"
            if dest is None:
                if words is None:
                    text = f"# 督办函\n\n{body}：{ref} 自 {day} 起处于 {state}，已逾 {days} 日。"
                else:
                    what = "线索" if kind == "lead" else "案件"
                    text = (f"# 关于{what}{ref}办理情况的督办函\n\n{words.names[body]}：\n\n"
                            f"你单位承办的{what}{ref}自{cn_date(day)}起处于“"
                            f"{words.states[kind, state]}”状态，已{(today - day).days}天，超过"
                            f"{days}天的办理时限。根据{words.document}{words.sources[timer]}）"
                            f"的安排，请抓紧办理，并及时反馈办理情况。{words.foot}"
                            f"{words.issuers}\n\n{words.written}\n")
                written += conn.execute(insert, (
                    key, CAMPAIGN, "supervision", body, None, kind, rid, 0, today.isoformat(),
                    "planned", text.splitlines()[0][2:], text, now)).rowcount
                continue
            if conn.execute(insert, (key, CAMPAIGN, "fire", body, None, kind, rid, 0,
                                     today.isoformat(), "done", None, None, now)).rowcount:
                written += 1
                conn.execute(f"UPDATE {table} SET state=?, state_since=?, updated_at=?, "
                             "row_version=? WHERE id=? AND row_version=?",
                             (dest, now, now, version + 1, rid, version))
                conn.execute("INSERT INTO events (occurred_at, campaign_id, record_kind, "
                             "record_id, trigger, from_state, to_state, actor, reason) VALUES "
                             "(?,?,?,?,?,?,?,?,?)", (now, CAMPAIGN, kind, rid, "close", state,
                                                     dest, "campaign run", timer))
    for oid, report, body, period, due in conn.execute(
            "SELECT id, report_id, body_id, period, due_on FROM obligations WHERE status='open'"
            " AND due_on<? AND campaign_id=?", (today.isoformat(), CAMPAIGN)).fetchall():
        late = (today - date.fromisoformat(due)).days  # overdue after 1, every 5, x3
        if late < 1 or (late - 1) % 5 or (late - 1) // 5 > 3:
            continue
        step = (late - 1) // 5
        key = f"{CAMPAIGN}:{report}:{body}:{period or '-'}:overdue:{step}"
        if words is None:
            text = f"# 催报函\n\n{body}：{report}（{period}）应于 {due} 前报送，已逾期 {late} 日。"
        else:
            title, source, sender = words.reports[report]
            what = f"{cn_period(period) or ''}{title}"
            text = (f"# 关于催报{what}的通知\n\n{words.names[body]}：\n\n根据{words.document}"
                    f"{source}）的安排，{what}应于{cn_date(date.fromisoformat(due))}前"
                    f"报送。截至{cn_date(today)}，你单位尚未报送，已逾期{late}天。\n\n请抓紧报送，"
                    f"并说明逾期原因。{words.foot}{sender}\n\n{words.written}\n")
        written += conn.execute(insert, (key, CAMPAIGN, "overdue", body, oid, None, None, step,
                                         today.isoformat(), "planned", text.splitlines()[0][2:],
                                         text, now)).rowcount
    conn.execute("COMMIT")
    return written


def naive_time(scenario: Scenario, sample: int = 1000) -> tuple[float, float, int]:
    """One ``transitions.Machine`` per due record: build it on a model holding the row's state
    (the lifecycle's states and transitions), evaluate the timer rule, fire ``fire`` timers.
    Returns (seconds for the sample, bytes allocated per machine, records in the sample)."""
    from transitions import Machine

    from engine.store import definitions as defs
    from engine.store.db import connect

    store = connect(scenario.url)
    _, definition = defs.latest(store, CAMPAIGN)
    store.engine.dispose()
    lifecycles = definition.campaign.lifecycles
    assert lifecycles is not None
    conn = sqlite3.connect(scenario.db_path)
    rows: list[tuple[str, str, str]] = []
    for kind, table, state, days, _timer, _dest in TIMERS:
        cutoff = (datetime.combine(TICK_DAY - timedelta(days=days), datetime.min.time())
                  ).strftime("%Y-%m-%d")
        rows += [(kind, state, s) for (s,) in conn.execute(
            f"SELECT state_since FROM {table} WHERE campaign_id=? AND state=? AND "
            "state_since<? LIMIT ?", (CAMPAIGN, state, cutoff, sample))]
    conn.close()
    rows = rows[:sample]
    specs = {kind: ([s.id for s in life.states],
                    [{"trigger": t.trigger, "source": list(t.from_), "dest": t.to}
                     for t in life.transitions],
                    {tm.state: tm for tm in life.timers})
             for kind in ("lead", "case") if (life := getattr(lifecycles, kind)) is not None}

    class Model:
        pass

    def run(batch: list[tuple[str, str, str]]) -> list[Any]:
        kept = []
        for kind, state, since in batch:
            states, transitions, timers = specs[kind]
            model = Model()
            Machine(model=model, states=states, transitions=transitions, initial=state,
                    auto_transitions=False)
            timer = timers[state]
            if _local(since) + timedelta(days=timer.after_days) <= TICK_DAY and \
                    timer.action == "fire" and timer.trigger:
                getattr(model, timer.trigger)()
            kept.append(model)
        return kept

    start = time.perf_counter()
    run(rows)
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    kept = run(rows[:200])
    per = tracemalloc.get_traced_memory()[0] / max(len(kept), 1)
    tracemalloc.stop()
    return elapsed, per, len(rows)


LEAD_HEADERS = ["线索编号", "报送单位", "权利人", "商标", "商标注册号", "核定使用类别",
                "商标权属是否明晰", "维权联系人及联系方式", "涉嫌侵权人", "涉嫌侵权行为地",
                "侵权行为地行政区划代码", "收集日期", "线索简要情况"]


def lead_rows(n: int) -> list[list[str]]:
    """``n`` valid lead rows as staff fill them in (Chinese headers, every value checked)."""
    provinces = province_ids()
    out = []
    for i in range(n):
        pid, _name, division = provinces[i % len(provinces)]
        out.append([f"XS{i:08d}", pid, f"权利人{i % 5000}有限公司", f"商标{i % 997}",
                    str(10_000_000 + i), str(i % 45 + 1), "是", f"张三 1380000{i % 10000:04d}",
                    f"涉嫌侵权人{i}", "某市某区某路1号", division,
                    f"2017-10-{i % 28 + 1:02d}", "在某市场发现销售假冒商品"])
    return out


def write_csv(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(LEAD_HEADERS)
        writer.writerows(lead_rows(n))
    return path


def write_xlsx(path: Path, n: int) -> Path:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("线索")
    ws.append(LEAD_HEADERS)
    for row in lead_rows(n):
        ws.append(row)
    wb.save(path)
    return path


def import_db(root: Path, tag: str) -> str:
    """A fresh store with sourcing_2017 loaded (untimed), for one import."""
    db = root / f"import-{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return load_import_campaign(f"sqlite:///{db}")


def load_import_campaign(url: str) -> str:
    """``url`` with sourcing_2017 loaded into it, the campaign the imports go to."""
    from engine.spec.loader import load_definition
    from engine.store import definitions as defs
    from engine.store.db import connect

    store = connect(url)
    defs.register(store, load_definition(ROOT / "campaigns/sourcing_2017.yaml"), actor="bench")
    store.engine.dispose()
    return url


def import_rate(path: Path, url: str, rows: int) -> float:
    """Rows/s of ``campaign lead import`` (the click command, in process, full validation;
    its summary line and progress bar go to /dev/null)."""
    from engine.cli import main

    start = time.perf_counter()
    with open(os.devnull, "w") as null, redirect_stdout(null), redirect_stderr(null):
        try:
            main.main(["lead", "import", str(path), "--campaign", "sourcing_2017", "--actor",
                       "bench", "--db", url], standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
    elapsed = time.perf_counter() - start
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM leads")).scalar_one()
    engine.dispose()
    if stored != rows:
        raise AssertionError(f"import stored {stored} of {rows} rows")
    return rows / elapsed


def raw_rate(path: Path, url: str) -> float:
    """Rows/s of the floor: read the same CSV with ``csv`` and executemany the same values into
    ``leads`` with ``sqlite3`` in one transaction (no validation, no audit events)."""
    db = url.removeprefix("sqlite:///")
    conn = sqlite3.connect(db, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    def_id = conn.execute("SELECT max(id) FROM definitions").fetchone()[0]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    sql = ("INSERT INTO leads (campaign_id, definition_id, natural_key, external_id, state, "
           "body_id, right_holder, mark, registration_number, nice_class, ownership_clear, "
           "right_holder_contact, suspected_infringer, infringement_place, "
           "infringement_division, received_on, summary, extra, state_since, created_at, "
           "updated_at, row_version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)")
    start = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        conn.execute("BEGIN")
        cur = conn.executemany(sql, (
            ("sourcing_2017", def_id, f"{r[1]}/{r[0]}", r[0], "collected", r[1], r[2], r[3],
             r[4], r[5], r[6] == "是", r[7], r[8], r[9], r[10], r[11], r[12], "{}", now, now,
             now) for r in reader))
        rows = cur.rowcount
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return rows / elapsed


def simulate_time(name: str) -> tuple[float, int]:
    """``simulate`` over the campaign's whole period (definition parsed outside the clock)."""
    from engine.runtime.simulate import simulate
    from engine.spec.loader import load_definition

    definition = load_definition(ROOT / "campaigns" / f"{name}.yaml")
    period = definition.campaign.period
    assert period is not None
    start = time.perf_counter()
    letters = list(simulate(definition, period.start, period.end))
    return time.perf_counter() - start, len(letters)


def validate_time(runs: int = 3) -> Timing:
    """``campaign validate campaigns/*.yaml`` from process start (the console script)."""
    files = sorted(str(p) for p in (ROOT / "campaigns").glob("*.yaml"))
    exe = shutil.which("campaign") or PYTHON

    def once(_: int) -> float:
        args = [exe, "validate", *files] if exe != PYTHON else [
            PYTHON, "-m", "engine.cli", "validate", *files]
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
        elapsed = time.perf_counter() - start
        if done.returncode:  # say why (a stale console script, a broken campaign), not just that
            raise RuntimeError(f"{' '.join(args[:2])} … failed ({done.returncode}):\n"
                               f"{(done.stderr or done.stdout).strip()[-2000:]}")
        return elapsed

    return _repeat(once, runs)


def peak_rss_kb(*worker_args: str) -> int:
    """Peak RSS of ``python -m bench.worker ARGS``, measured by a fresh parent process through
    ``getrusage(RUSAGE_CHILDREN)`` (a fresh parent, because the figure is a maximum over every
    child a process has waited for)."""
    out = subprocess.run([PYTHON, "-m", "bench.worker", "rss", *worker_args], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return int(out.stdout.strip().splitlines()[-1])
