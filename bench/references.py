"""What the engine's tick is measured against: plain ``sqlite3`` doing the same work (the
floor), and one ``transitions.Machine`` per due record (the naive way)."""

from __future__ import annotations

import sqlite3
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.generate import CAMPAIGN, TICK_DAY, Scenario
from bench.timing import Timing, fresh_copy, repeat
from engine.letters.context import cn_date, cn_date_written, cn_period


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
        db = fresh_copy(scenario.db_path, f"floor{i}")
        conn = sqlite3.connect(db, isolation_level=None)
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            conn.execute(f"PRAGMA {pragma}")
        start = time.perf_counter()
        sent = floor_tick(conn, TICK_DAY, words)
        elapsed = time.perf_counter() - start
        conn.close()
        expected = sum(scenario.due.values())
        if sent != expected:
            raise AssertionError(f"floor wrote {sent} letters, expected {expected}")
        return elapsed

    return repeat(once, runs)


TIMERS = (("lead", "leads", "forwarded", 15, "forwarded_unopened", None),
          ("lead", "leads", "assigned", 15, "assigned_unopened", None),
          ("case", "cases", "investigating", 30, "case_feedback", None),
          ("case", "cases", "decided", 20, "decided_autoclose", "closed"))
"""(kind, table, state, after_days, timer id, state a ``fire`` timer moves to)."""


def local_day(stamp: str) -> date:
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


def floor_tick(conn: sqlite3.Connection, today: date, words: FloorWords | None = None) -> int:
    """One tick's work in plain ``sqlite3``, in one transaction; the letters written.

    ``words=None`` writes the one-line texts of the earlier reference."""
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
            day = local_day(since)
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
            if local_day(since) + timedelta(days=timer.after_days) <= TICK_DAY and \
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
