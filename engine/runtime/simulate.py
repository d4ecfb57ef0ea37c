"""Run the planner over a simulated calendar: every letter a definition will send, and when.

The same planner as ``campaign run``; only the clock and the state are simulated (in memory,
one planner call per day), so policy staff can see before a campaign starts what it will do.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

from engine.records.lifecycle import Moved, lifecycle_machines
from engine.runtime.obligations import obligations
from engine.runtime.planner import Letter, Snapshot, plan_day
from engine.runtime.timers import TimedRecord
from engine.spec.loader import Definition


class SimulationDataError(ValueError):
    """A ``--data`` file that cannot be used; the message says where and why (Chinese)."""


@dataclass(frozen=True, slots=True)
class Submission:
    report: str
    body: str
    day: date
    count: int | None = None
    period: str = ""


@dataclass(frozen=True)
class SimulationData:
    """What ``--data`` supplies: submissions, and leads and cases as they stand."""

    submissions: tuple[Submission, ...] = ()
    records: tuple[TimedRecord, ...] = ()


def load_data(path: Path, definition: Definition) -> SimulationData:
    """``--data``: a YAML/JSON file with ``submissions: [{report, body, date, count, period}]``,
    and ``leads:`` / ``cases: [{id, body, state, since}]`` (a record in ``state`` since a day)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SimulationDataError(f"无法读取模拟数据 {path}：{exc}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k, []), list)
                                             for k in ("submissions", "leads", "cases")):
        raise SimulationDataError(f"{path}：应包含 submissions、leads、cases 列表")
    subs = tuple(_submission(f"{path}：第 {i} 条提交", item, definition)
                 for i, item in enumerate(data.get("submissions", []), 1))
    records = tuple(_record(f"{path}：{kind}第 {i} 条", kind, i, item, definition)
                    for kind in ("lead", "case")
                    for i, item in enumerate(data.get(f"{kind}s", []), 1))
    return SimulationData(subs, records)


def _submission(where: str, item: object, definition: Definition) -> Submission:
    if not isinstance(item, dict) or not {"report", "body", "date"} <= set(item):
        raise SimulationDataError(f"{where}应包含 report、body、date")
    if item["report"] not in {r.id for r in definition.campaign.reports}:
        raise SimulationDataError(f"{where}：未知的报送事项“{item['report']}”")
    _check_body(where, item["body"], definition)
    day = _day(where, item["date"])
    count = item.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)
                              or count < 0):
        raise SimulationDataError(f"{where}：count 应为非负整数")
    return Submission(item["report"], item["body"], day, count, str(item.get("period") or ""))


def _record(where: str, kind: str, number: int, item: object,
            definition: Definition) -> TimedRecord:
    if not isinstance(item, dict) or not {"body", "state", "since"} <= set(item):
        raise SimulationDataError(f"{where}应包含 body、state、since")
    life = getattr(definition.campaign.lifecycles, kind, None) \
        if definition.campaign.lifecycles else None
    states = {st.id for st in life.states} if life else set()
    if item["state"] not in states:
        raise SimulationDataError(f"{where}：未知的状态“{item['state']}”")
    _check_body(where, item["body"], definition)
    return TimedRecord(kind, number, str(item.get("id") or number), item["state"], item["body"],
                       _day(where, item["since"]))


def _check_body(where: str, body: object, definition: Definition) -> None:
    if not isinstance(body, str) or body not in definition.bodies:
        raise SimulationDataError(f"{where}：未知的单位“{body}”")


def _day(where: str, value: object) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise SimulationDataError(f"{where}：日期应写作 2017-10-20")
    return value


def simulate(definition: Definition, start: date, end: date,
             data: SimulationData | None = None) -> Iterator[tuple[date, Letter]]:
    """Every (day, letter) from ``start`` to ``end`` inclusive, as daily runs would plan them.

    Leads count towards their body's lead quota from the day they were recorded, and timers
    watch them from ``since``; a ``fire`` timer moves a record as the daily run would."""
    data = data or SimulationData()
    obs = obligations(definition)
    by_day: dict[date, list[Submission]] = defaultdict(list)
    for sub in data.submissions:
        by_day[max(sub.day, start)].append(sub)  # what was submitted before the start counts
    records = {(r.kind, r.id): r for r in data.records}
    machines = lifecycle_machines(definition)
    lead_reports = {r.id for r in definition.campaign.reports
                    if r.quota is not None and r.quota.of == "leads"}
    recorded: set[str] = set()
    submitted: dict[str, date] = {}
    counts: dict[str, int] = defaultdict(int)
    cid = definition.campaign.id
    day = start
    while day <= end:
        for sub in by_day.get(day, ()):
            key = f"{cid}:{sub.report}:{sub.body}:{sub.period or '-'}"
            submitted.setdefault(key, day)
            counts[key] += sub.count or 0
        leads = Counter(r.body for r in records.values() if r.kind == "lead" and r.since <= day)
        merged = dict(counts)
        for ob in obs:
            if ob.report in lead_reports and leads.get(ob.body):
                merged[ob.key] = max(merged.get(ob.key, 0), leads[ob.body])
        live = tuple(r for r in records.values() if r.since <= day)
        snap = Snapshot(recorded, submitted, merged, live)
        planned, moves = plan_day(definition, obs, snap, day)
        for move in moves:
            recorded.add(move.key)
            rec = move.record
            outcome = machines[rec.kind].fire(rec.state, move.trigger, {})
            if isinstance(outcome, Moved):
                records[(rec.kind, rec.id)] = rec._replace(state=outcome.dest, since=day)
        for letter in planned:
            recorded.add(letter.key)
            yield day, letter
        day += timedelta(days=1)
