"""Run the planner over a simulated calendar: every letter a definition will send, and when.

The same planner as ``campaign run``; only the clock and the state are simulated (in memory,
one planner call per day), so policy staff can see before a campaign starts what it will do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import yaml

from engine.runtime.obligations import obligations
from engine.runtime.planner import Letter, Snapshot, plan
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


def load_data(path: Path, definition: Definition) -> list[Submission]:
    """Submissions from a YAML/JSON file: ``submissions: [{report, body, date, count, period}]``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SimulationDataError(f"无法读取模拟数据 {path}：{exc}") from None
    items = data.get("submissions", []) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise SimulationDataError(f"{path}：应包含 submissions 列表")
    reports = {r.id for r in definition.campaign.reports}
    out = []
    for i, item in enumerate(items, 1):
        where = f"{path}：第 {i} 条提交"
        if not isinstance(item, dict) or not {"report", "body", "date"} <= set(item):
            raise SimulationDataError(f"{where}应包含 report、body、date")
        if item["report"] not in reports:
            raise SimulationDataError(f"{where}：未知的报送事项“{item['report']}”")
        if item["body"] not in definition.bodies:
            raise SimulationDataError(f"{where}：未知的单位“{item['body']}”")
        day = item["date"]
        if not isinstance(day, date):
            raise SimulationDataError(f"{where}：日期应写作 2017-10-20")
        count = item.get("count")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise SimulationDataError(f"{where}：count 应为非负整数")
        out.append(Submission(item["report"], item["body"], day, count,
                              str(item.get("period") or "")))
    return out


def simulate(definition: Definition, start: date, end: date,
             submissions: tuple[Submission, ...] | list[Submission] = (),
             ) -> Iterator[tuple[date, Letter]]:
    """Every (day, letter) from ``start`` to ``end`` inclusive, as daily runs would plan them."""
    obs = obligations(definition)
    by_day: dict[date, list[Submission]] = defaultdict(list)
    for sub in submissions:
        by_day[max(sub.day, start)].append(sub)  # what was submitted before the start counts
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
        snap = Snapshot(recorded, submitted, counts)
        for letter in plan(definition, obs, snap, day):
            recorded.add(letter.key)
            yield day, letter
        day += timedelta(days=1)
