"""Who reported what, on time or late, and who still owes: per body, report and period.

What is owed comes from the definition (:func:`engine.runtime.obligations.obligations`), not
from the ``obligations`` table, so the report is right even before the first ``campaign run``
has written that table; what was submitted comes from ``submissions`` (aggregated per
obligation in SQL: first submission and items reported), and for lead-quota reports from the
leads each body registered, the same rule the planner's snapshot applies. Everything is as of
the end of the ``at`` day in the campaign's time zone: later submissions do not yet exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from engine.runtime.obligations import obligations
from engine.runtime.tick import children_of
from engine.runtime.timed import local_day
from engine.spec.loader import Definition
from engine.store.db import Store
from engine.store.tables import leads, submissions
from engine.store.tables import obligations as obligation_rows

STATUS_WORDS = {"on_time": "按时报送", "late": "逾期报送", "missing": "逾期未报",
                "pending": "未到期"}


@dataclass(frozen=True, slots=True)
class Compliance:
    """One obligation's standing on a day."""

    report: str
    report_title: str
    body: str
    body_name: str
    period: str
    due: date
    status: str  # a key of STATUS_WORDS
    submitted_on: date | None
    quota: int | None
    count: int

    @property
    def status_word(self) -> str:
        return STATUS_WORDS[self.status]

    @property
    def shortfall(self) -> int | None:
        """How many items are still short of the quota (0 = attained); None without a quota."""
        return None if self.quota is None else max(self.quota - self.count, 0)


def standing(due: date, submitted_on: date | None, today: date) -> str:
    """on_time / late / missing / pending: a due day counts as on time to its end."""
    if submitted_on is not None:
        return "on_time" if submitted_on <= due else "late"
    return "missing" if today > due else "pending"


def compliance(store: Store, definition: Definition, today: date) -> list[Compliance]:
    """Every obligation of the campaign with its standing on ``today``, by due day."""
    c = definition.campaign
    tz = ZoneInfo(c.timezone)
    cutoff = datetime.combine(today + timedelta(days=1), time(), tz)
    t, s = obligation_rows, submissions
    query = (select(t.c.report_id, t.c.body_id, t.c.period, func.min(s.c.submitted_at),
                    func.coalesce(func.sum(s.c.item_count), 0))
             .join(s, s.c.obligation_id == t.c.id)
             .where(t.c.campaign_id == c.id, s.c.submitted_at < cutoff)
             .group_by(t.c.report_id, t.c.body_id, t.c.period))
    lead_reports = {r.id for r in c.reports if r.quota is not None and r.quota.of == "leads"}
    reporter = func.coalesce(leads.c.reported_by, leads.c.body_id)  # sent on, still its own
    with store.engine.connect() as conn:
        done = {(r, b, p): (local_day(first, tz), int(n)) for r, b, p, first, n in
                conn.execute(query)}
        per_body: dict[str | None, int] = {}
        if lead_reports:
            per_body = dict(conn.execute(  # type: ignore[arg-type]
                select(reporter, func.count()).where(
                    leads.c.campaign_id.in_((c.id, *children_of(store, c.id))),
                    leads.c.created_at < cutoff)
                .group_by(reporter)).all())
    titles = {r.id: r.title for r in c.reports}
    out = []
    for ob in obligations(definition):
        first, count = done.get((ob.report, ob.body, ob.period), (None, 0))
        if ob.report in lead_reports:
            count = max(count, per_body.get(ob.body, 0))
        name = definition.bodies[ob.body].name if ob.body in definition.bodies else ob.body
        out.append(Compliance(ob.report, titles.get(ob.report, ob.report), ob.body, name,
                              ob.period, ob.due, standing(ob.due, first, today), first,
                              ob.quota, count))
    return out


HEADERS = ["报送事项", "单位", "期间", "截止日期", "情况", "报送日期", "任务数", "已报数",
           "缺口"]


def rows(items: list[Compliance]) -> list[list[str]]:
    """Display rows for a table or CSV (Chinese words; empty where not applicable)."""
    return [[i.report_title, i.body_name, i.period, i.due.isoformat(), i.status_word,
             i.submitted_on.isoformat() if i.submitted_on else "",
             "" if i.quota is None else str(i.quota), str(i.count),
             "" if i.shortfall is None else ("已完成" if i.shortfall == 0 else str(i.shortfall))]
            for i in items]


def summary(items: list[Compliance]) -> str:
    counts = {k: sum(1 for i in items if i.status == k) for k in STATUS_WORDS}
    quota = [i for i in items if i.quota is not None]
    short = sum(1 for i in quota if i.shortfall)
    tail = f"；有任务数的 {len(quota)} 项中 {short} 项未完成" if quota else ""
    return f"共 {len(items)} 项：" + "，".join(
        f"{STATUS_WORDS[k]} {v} 项" for k, v in counts.items()) + tail


def as_data(items: list[Compliance]) -> list[dict[str, object]]:
    return [{"report": i.report, "report_title": i.report_title, "body": i.body,
             "body_name": i.body_name, "period": i.period, "due": i.due.isoformat(),
             "status": i.status, "status_word": i.status_word,
             "submitted_on": i.submitted_on.isoformat() if i.submitted_on else None,
             "quota": i.quota, "count": i.count, "shortfall": i.shortfall} for i in items]
