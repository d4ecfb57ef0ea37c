"""Which obligations can have a letter due today: read through an index, not all of them.

A national campaign owes tens of thousands of reports over its life, but on a given day only
a few can need a letter: those still open whose first reminder day has come (the
``(status, due_on)`` index finds them), and those with a quota, which stay owed while the
count falls short. The rest were fulfilled, and a fulfilled obligation without a quota never
needs another letter. Only these are read, with what was submitted for them, and planned.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, bindparam, func, select, union_all

from engine.runtime.obligations import Obligation, obligations
from engine.runtime.planner import first_letter_day
from engine.runtime.timed import local_day
from engine.spec.loader import Definition, per_definition
from engine.store.tables import obligations as obligation_rows
from engine.store.tables import submissions


@per_definition
def reminder_lead_days(definition: Definition) -> int:
    """The most days before its due day any obligation's first letter can go out."""
    return max(((ob.due - first_letter_day(ob)).days for ob in obligations(definition)),
               default=0)


@dataclass
class Live:
    """The obligations to plan today, what was submitted for them, and their row ids."""

    obligations: list[Obligation] = field(default_factory=list)
    submitted: dict[str, date] = field(default_factory=dict)  # key -> first submission day
    counts: dict[str, int] = field(default_factory=dict)  # key -> items reported
    ids: dict[str, int] = field(default_factory=dict)  # key -> obligation row id


@per_definition
def _query(definition: Definition) -> Select[Any]:
    """Open obligations due by ``:horizon`` and quota ones, with their submissions (built once
    per definition: building it cost as much as running it)."""
    c, t = definition.campaign, obligation_rows
    columns = (t.c.id, t.c.report_id, t.c.body_id, t.c.period)
    due_soon = select(*columns).where(t.c.status == "open",
                                      t.c.due_on <= bindparam("horizon", type_=t.c.due_on.type),
                                      t.c.campaign_id == c.id, t.c.origin == "definition")
    with_quota = [r.id for r in c.reports if r.quota is not None]  # through the unique index
    quota = select(*columns).where(t.c.campaign_id == c.id, t.c.report_id.in_(with_quota),
                                   t.c.origin == "definition", t.c.quota.is_not(None),
                                   t.c.status != "withdrawn")
    rows = union_all(due_soon, quota).subquery()
    return (select(rows.c.id, rows.c.report_id, rows.c.body_id, rows.c.period,
                   func.min(submissions.c.submitted_at), func.sum(submissions.c.item_count),
                   func.count(submissions.c.id))
            .outerjoin(submissions, submissions.c.obligation_id == rows.c.id)
            .group_by(rows.c.id, rows.c.report_id, rows.c.body_id, rows.c.period)
            .order_by(rows.c.id))


@per_definition
def _by_row(definition: Definition) -> dict[tuple[str, str, str], Obligation]:
    return {(ob.report, ob.body, ob.period): ob for ob in obligations(definition)}


def live_obligations(conn: Connection, definition: Definition,
                     held: Set[tuple[str, str, str]], today: date) -> Live:
    """Of the definition's obligations, less ``held`` (a loaded parent's), those open whose
    first letter day can have come, and those with a quota."""
    horizon = today + timedelta(days=reminder_lead_days(definition))
    by_row, tz, live = _by_row(definition), ZoneInfo(definition.campaign.timezone), Live()
    for oid, report, body, period, first, total, n in conn.execute(
            _query(definition), {"horizon": horizon}).all():  # at once, not row by row
        ob = by_row.get((report, body, period))
        if ob is None or (report, body, period) in held or ob.key in live.ids:
            continue  # not this version's (yet), a parent's, or found both ways
        live.obligations.append(ob)
        live.ids[ob.key] = oid
        if n:
            live.submitted[ob.key] = local_day(first, tz)
            live.counts[ob.key] = int(total or 0)
    return live
