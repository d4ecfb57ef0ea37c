"""Synthetic national-scale data: ~3,000 county bodies, N leads and cases, tens of thousands of
obligations, and a fixed number of items due on the tick day.

There is no national county registry in ``campaigns/bodies/``, so one is synthesised (31
provinces x ~97 counties) next to copies of the real central/SAIC/province registries, with a
campaign derived from sourcing_2017 that adds a monthly per-county report (5 periods x ~3,000
counties) and a ``fire`` timer (so the tick also moves records). Everything lives in a temporary
directory; nothing under ``campaigns/`` is touched.

The database is bulk-loaded with plain ``sqlite3`` executemany in one transaction, with the
secondary indexes dropped and rebuilt afterwards and ``synchronous=OFF`` (the recommended way to
load SQLite fast; generation is not measured). Only the *due* set is fixed in size; everything
else grows with N, so comparing 100k with 1M shows whether the tick's cost follows the work due
or the data stored.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from engine.runtime.obligations import Obligation, obligations
from engine.runtime.planner import schedule
from engine.spec.loader import Definition, load_definition
from engine.store import definitions as defs
from engine.store.db import connect
from engine.store.tables import cases, leads

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = "bench_national"
TZ = ZoneInfo("Asia/Shanghai")
TICK_DAY = date(2017, 11, 11)
"""One day after the October county reports were due: overdue letters go out today."""
TICK_AT = datetime.combine(TICK_DAY, time(9), TZ)
COUNTIES_PER_PROVINCE = 97  # 31 x 97 = 3,007 county bodies

# The due set, the same at every scale (so the 100k/1M ratio isolates stored data):
DUE_FORWARDED = 450  # leads forwarded 16-20 days ago, not yet supervised (timer after 15 days)
DUE_INVESTIGATING = 150  # cases investigating 31-45 days, not yet supervised (after 30 days)
DUE_DECIDED = 100  # cases decided 21-30 days ago: the ``fire`` timer closes them (a state move)
DUE_OVERDUE = 300  # counties that did not submit the October report due 2017-11-10

LEAD_STATES = {"collected": 0.40, "consolidated": 0.10, "reported": 0.05, "case_opened": 0.30,
               "declined": 0.08, "withdrawn": 0.07}
CASE_STATES = {"opened": 0.20, "referred": 0.10, "closed": 0.70}


@dataclass(frozen=True)
class Scenario:
    """A generated data set: where it is and what is due in it."""

    root: Path
    campaign_path: Path
    db_path: Path
    records: int
    due: dict[str, int]
    obligations: int
    letters_history: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db_path}"


def province_ids() -> list[tuple[str, str, str]]:
    """(id, name, division) of the 31 provinces of the bundled registry (not the XPCC)."""
    data = yaml.safe_load((ROOT / "campaigns/bodies/provinces.yaml").read_text(encoding="utf-8"))
    return [(b["id"], b["name"], b["division"]) for b in data["bodies"]
            if b["level"] == "province" and b["id"] != "xpcc_amr"]


def county_registry(path: Path, per_province: int = COUNTIES_PER_PROVINCE) -> list[str]:
    """Write ``counties.yaml`` (~3,000 county bodies under the real provinces); returns ids."""
    bodies, ids = [], []
    for pid, pname, division in province_ids():
        for i in range(per_province):
            cid = f"{pid.removesuffix('_amr')}_c{i:03d}"
            ids.append(cid)
            bodies.append({"id": cid, "name": f"{pname[:2]}第{i + 1}县市场监督管理局",
                           "level": "county", "kind": "market_regulator", "parent": pid,
                           "division": f"{division[:2]}{i // 20 + 1:02d}{i % 20 + 1:02d}"})
    doc = {"registry": "counties", "title": "合成的全国县级市场监管部门（基准测试用）",
           "requires": ["provinces.yaml"], "bodies": bodies}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return ids


def write_campaign(root: Path, per_province: int = COUNTIES_PER_PROVINCE,
                   ) -> tuple[Path, list[str]]:
    """Copy the real registries, synthesise the counties, derive the campaign from
    sourcing_2017 (same lifecycles, timers, routing, reminders) plus a per-county monthly report
    and a ``fire`` timer. Returns the campaign file and the county ids."""
    (root / "campaigns/bodies").mkdir(parents=True, exist_ok=True)
    for name in ("central_2017.yaml", "saic_2017.yaml", "provinces.yaml"):
        shutil.copy(ROOT / "campaigns/bodies" / name, root / "campaigns/bodies" / name)
    counties = county_registry(root / "campaigns/bodies/counties.yaml", per_province)
    doc: dict[str, Any] = yaml.safe_load(
        (ROOT / "campaigns/sourcing_2017.yaml").read_text(encoding="utf-8"))
    doc.pop("implements", None)
    doc["id"] = CAMPAIGN
    doc["title"] = "全国县级专项行动（基准测试合成数据）"
    doc["registries"] = [*doc["registries"], "bodies/counties.yaml"]
    doc["reports"].append({
        "id": "county_monthly", "title": "县级月度办案情况", "kind": "statistics_return",
        "from": {"name": "各县级市场监管部门", "registry": "counties", "level": "county"},
        "to": "saic.tmo",
        "due": {"every": "month", "day": 10, "covers": "previous_month", "first": "2017-09",
                "last": "2018-01", "wording": "每月10日前报送上月情况"},
        "phase": "implement", "content": "上月办案情况。", "source": "基准测试合成"})
    doc["lifecycles"]["case"]["timers"].append({
        "id": "decided_autoclose", "state": "decided", "after_days": 20, "action": "fire",
        "trigger": "close", "source": "基准测试合成",
        "assumption": "基准测试：作出处罚决定20日后自动结案。"})
    path = root / "campaigns" / f"{CAMPAIGN}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, counties


def _utc(day: date) -> str:
    """A stored timestamp as the engine writes it on SQLite (naive UTC text), 10:00 local."""
    moment = datetime.combine(day, time(10), TZ).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _pick(weights: dict[str, float], rnd: random.Random) -> str:
    return rnd.choices(list(weights), list(weights.values()))[0]


@dataclass
class _Plan:
    """Which records get which state and when, decided before any row is written."""

    leads: list[tuple[str, date]] = field(default_factory=list)
    cases: list[tuple[str, date]] = field(default_factory=list)
    supervised: list[tuple[str, int, str, date]] = field(default_factory=list)  # timer letters
    feedback: list[tuple[int, date, bool]] = field(default_factory=list)  # lead, since, open?


def _plan_records(n: int, rnd: random.Random) -> _Plan:
    """States and ``state_since`` days: the fixed due set first, then background that grows
    with N (recent watched records, watched records already supervised, settled records)."""
    p = _Plan()
    n_leads, n_cases = n * 6 // 10, n - n * 6 // 10
    day = TICK_DAY

    def ago(lo: int, hi: int) -> date:
        return day - timedelta(days=rnd.randint(lo, hi))

    def add(kind: str, state: str, since: date, timer: str | None = None,
            feedback: bool | None = None) -> None:
        rows = p.leads if kind == "lead" else p.cases
        rows.append((state, since))
        if timer is not None:
            p.supervised.append((kind, len(rows), timer, since))
        if feedback is not None:
            p.feedback.append((len(rows), since, feedback))

    for _ in range(min(DUE_FORWARDED, n_leads // 4)):
        add("lead", "forwarded", ago(16, 20), feedback=True)
    for _ in range(min(DUE_INVESTIGATING, n_cases // 4)):
        add("case", "investigating", ago(31, 45))
    for _ in range(min(DUE_DECIDED, n_cases // 4)):
        add("case", "decided", ago(21, 30))
    for _ in range(n // 200):  # 0.5%: forwarded recently, feedback still open, nothing due
        add("lead", "forwarded", ago(0, 14), feedback=True)
    for _ in range(n // 500):  # 0.2%: forwarded long ago, supervised, fed back, case not open
        add("lead", "forwarded", ago(21, 60), timer="forwarded_unopened", feedback=False)
    for _ in range(n // 200):
        add("lead", "assigned", ago(0, 14))
    for _ in range(n // 100):
        add("case", "investigating", ago(0, 29))
    for _ in range(n // 500):
        add("case", "investigating", ago(31, 60), timer="case_feedback")
    for _ in range(n // 200):
        add("case", "decided", ago(0, 19))
    while len(p.leads) < n_leads:
        add("lead", _pick(LEAD_STATES, rnd), ago(1, 70))
    while len(p.cases) < n_cases:
        add("case", _pick(CASE_STATES, rnd), ago(1, 70))
    return p


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _insert(conn: sqlite3.Connection, table: str, rows: Iterator[dict[str, Any]]) -> int:
    """executemany of dict rows (missing columns NULL), through a lazily consumed iterator."""
    cols = [c for c in _columns(conn, table) if c != "id"]
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    before = conn.total_changes
    conn.executemany(sql, (tuple(r.get(c) for c in cols) for r in rows))
    return conn.total_changes - before


def _record_rows(kind: str, plan: list[tuple[str, date]], counties: list[str], def_id: int,
                 rnd: random.Random) -> Iterator[dict[str, Any]]:
    now = _utc(TICK_DAY - timedelta(days=1))
    for i, (state, since) in enumerate(plan, 1):
        body = counties[rnd.randrange(len(counties))]
        ref = f"{'XS' if kind == 'lead' else 'AJ'}{i:08d}"
        row: dict[str, Any] = {
            "campaign_id": CAMPAIGN, "definition_id": def_id, "natural_key": f"{body}/{ref}",
            "external_id": ref, "state": state, "body_id": body, "extra": "{}",
            "state_since": _utc(since), "created_at": _utc(since - timedelta(days=3)),
            "updated_at": now, "row_version": 2, "summary": f"合成{kind} {i}"}
        if kind == "lead":
            row.update(right_holder=f"权利人{i % 5000}有限公司", mark=f"商标{i % 997}",
                       registration_number=str(1_000_000 + i), ownership_clear=1,
                       suspected_infringer=f"涉嫌侵权人{i}", infringement_place="某市某区某路",
                       collecting_body=body, received_on=(since - timedelta(days=5)).isoformat())
        else:
            row.update(right_type="trademark", handling_body=body, suspects_caught=i % 3,
                       opened_on=(since - timedelta(days=2)).isoformat())
        yield row


def _events(kind: str, count: int, def_id: int) -> Iterator[dict[str, Any]]:
    at = _utc(TICK_DAY - timedelta(days=60))
    for rid in range(1, count + 1):
        yield {"occurred_at": at, "campaign_id": CAMPAIGN, "record_kind": kind,
               "record_id": rid, "trigger": "create", "to_state": "collected"
               if kind == "lead" else "opened", "actor": "bench", "reason": "导入/登记",
               "definition_id": def_id}


def _obligation_rows(obs: tuple[Obligation, ...], def_id: int) -> Iterator[dict[str, Any]]:
    for ob in obs:
        yield {"campaign_id": CAMPAIGN, "definition_id": def_id, "report_id": ob.report,
               "body_id": ob.body, "period": ob.period, "due_on": ob.due.isoformat(),
               "quota": ob.quota, "status": "open", "origin": "definition"}


def generate(root: Path, n: int, *, seed: int = 2017,
             per_province: int = COUNTIES_PER_PROVINCE) -> Scenario:
    """Write the registries, the campaign and a loaded SQLite database under ``root``
    (``per_province`` counties under each of the 31 provinces; fewer for the smoke test)."""
    rnd = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    campaign_path, counties = write_campaign(root, per_province)
    definition: Definition = load_definition(campaign_path)
    db_path = root / "bench.db"
    for stale in root.glob("*.db*"):  # a kept --workdir from an earlier run
        stale.unlink()
    store = connect(f"sqlite:///{db_path}")  # creates the schema through the migrations
    def_id = defs.register(store, definition, actor="bench").definition_id
    store.engine.dispose()
    plan = _plan_records(n, rnd)
    obs = obligations(definition)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-200000")
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND sql "
                           "IS NOT NULL AND tbl_name IN ('leads','cases','events','letters',"
                           "'obligations','submissions')").fetchall()
    conn.execute("BEGIN")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    counts = {"leads": _insert(conn, leads.name, _record_rows("lead", plan.leads, counties,
                                                             def_id, rnd)),
              "cases": _insert(conn, cases.name, _record_rows("case", plan.cases, counties,
                                                             def_id, rnd))}
    counts["events"] = _insert(conn, "events", _events("lead", len(plan.leads), def_id))
    counts["events"] += _insert(conn, "events", _events("case", len(plan.cases), def_id))
    counts["obligations"] = _insert(conn, "obligations", _obligation_rows(obs, def_id))
    ob_ids = {(r, b, p): i for i, r, b, p in conn.execute(
        "SELECT id, report_id, body_id, period FROM obligations")}
    history, unsubmitted = _submissions_and_letters(conn, obs, ob_ids, counties, rnd)
    history += _timer_history(conn, plan)
    _feedback(conn, plan, def_id)
    # earlier ticks brought the obligations in step with this version, as they would have
    conn.execute("INSERT INTO obligation_syncs (campaign_id, definition_id, scope, synced_at) "
                 "VALUES (?, ?, 'all', ?)", (CAMPAIGN, def_id, _utc(TICK_DAY - timedelta(days=1))))
    conn.execute("COMMIT")
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.close()
    due = {"forwarded leads (supervise)": min(DUE_FORWARDED, len(plan.leads) // 4),
           "investigating cases (supervise)": min(DUE_INVESTIGATING, len(plan.cases) // 4),
           "decided cases (fire close)": min(DUE_DECIDED, len(plan.cases) // 4),
           "county reports overdue": unsubmitted}
    return Scenario(root, campaign_path, db_path, len(plan.leads) + len(plan.cases), due,
                    len(obs), history, counts)


def _submissions_and_letters(conn: sqlite3.Connection, obs: tuple[Obligation, ...],
                             ob_ids: dict[tuple[str, str, str], int], counties: list[str],
                             rnd: random.Random) -> tuple[int, int]:
    """Everything due before the tick day was submitted, except ``DUE_OVERDUE`` counties'
    October report; every letter scheduled before the tick day is in the history already
    (reminders were sent), so only today's overdue letters are due."""
    late = set(rnd.sample(counties, min(DUE_OVERDUE, len(counties))))
    subs, letters = [], []
    unsubmitted = 0
    created = _utc(TICK_DAY - timedelta(days=1))
    for ob in obs:
        oid = ob_ids[(ob.report, ob.body, ob.period)]
        done = ob.due < TICK_DAY and not (ob.report == "county_monthly" and ob.body in late
                                          and ob.period == "2017-10")
        if done:
            subs.append({"obligation_id": oid, "submitted_at": _utc(ob.due - timedelta(days=1)),
                         "actor": "bench", "item_count": ob.quota})
        elif ob.due < TICK_DAY:
            unsubmitted += 1
        for series, kind, step, day, recipient, key in schedule(ob):
            if day >= TICK_DAY or (series != "before" and done):
                continue  # a letter still to come, or a chase a submission made moot
            letters.append({"idempotency_key": key,
                            "campaign_id": CAMPAIGN, "kind": kind, "recipient_id": recipient,
                            "obligation_id": oid, "step": step, "planned_for": day.isoformat(),
                            "status": "sent", "subject": "提醒", "body": "（历史信函）",
                            "created_at": created, "attempts": 1})
    _insert(conn, "submissions", iter(subs))
    conn.executemany("UPDATE obligations SET status='fulfilled', fulfilled_at=? WHERE id=?",
                     [(s["submitted_at"], s["obligation_id"]) for s in subs])
    return _insert(conn, "letters", iter(letters)), unsubmitted


def _timer_history(conn: sqlite3.Connection, plan: _Plan) -> int:
    """Supervision letters already sent for background records still in a watched state,
    plus past supervision letters of records that have since moved on (2% of N)."""
    def rows() -> Iterator[dict[str, Any]]:
        created = _utc(TICK_DAY - timedelta(days=2))
        for kind, rid, timer, since in plan.supervised:
            yield {"idempotency_key": f"{CAMPAIGN}:timer:{timer}:{kind}:{rid}:"
                                      f"{since.isoformat()}",
                   "campaign_id": CAMPAIGN, "kind": "supervision", "recipient_id": "x",
                   "record_kind": kind, "record_id": rid, "step": 0,
                   "planned_for": since.isoformat(), "status": "sent", "created_at": created,
                   "attempts": 1}
        total = len(plan.leads) + len(plan.cases)
        for i in range(total // 50):
            since = TICK_DAY - timedelta(days=40 + i % 20)
            rid = 1 + (i * 7919) % max(len(plan.leads), 1)
            yield {"idempotency_key": f"{CAMPAIGN}:timer:assigned_unopened:lead:{rid}:"
                                      f"{since.isoformat()}:old{i}",
                   "campaign_id": CAMPAIGN, "kind": "supervision", "recipient_id": "x",
                   "record_kind": "lead", "record_id": rid, "step": 0,
                   "planned_for": since.isoformat(), "status": "sent", "created_at": created,
                   "attempts": 1}
    return _insert(conn, "letters", rows())


def _feedback(conn: sqlite3.Connection, plan: _Plan, def_id: int) -> None:
    """Feedback obligations of forwarded leads (origin ``forwarding``): open while the lead
    waits, fulfilled for the ones that reported back; due 30 days after forwarding."""
    body = dict(conn.execute("SELECT id, body_id FROM leads WHERE state='forwarded'"))
    rows = []
    for rid, since, still_open in plan.feedback:
        holder = body[rid]
        rows.append({"campaign_id": CAMPAIGN, "definition_id": def_id,
                     "report_id": "lead_feedback", "body_id": holder,
                     "period": f"lead:{rid}", "due_on": (since + timedelta(days=30)).isoformat(),
                     "status": "open" if still_open else "fulfilled", "origin": "forwarding",
                     "recipient_id": holder.rsplit("_c", 1)[0] + "_amr", "record_kind": "lead",
                     "record_id": rid})
    _insert(conn, "obligations", iter(rows))


def describe(s: Scenario) -> str:
    """One line on what was generated, for the report."""
    return (f"{s.records:,} records ({s.counts.get('leads', 0):,} leads, "
            f"{s.counts.get('cases', 0):,} cases), {s.obligations:,} obligations, "
            f"{s.letters_history:,} letters in history, due: " + json.dumps(s.due,
                                                                           ensure_ascii=False))
