"""The supervision view: per body, the forwarded leads it owes feedback on and the cases it
has open, by age and state, the overdue ones first.

Two queries (leads with their open feedback obligations, open cases) through the indexes on
campaign and state; nothing is loaded that is not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select

from engine.runtime.forwarding import FEEDBACK
from engine.runtime.timed import local_day
from engine.spec.loader import Definition
from engine.store.db import Store
from engine.store.tables import bodies, cases, leads, obligations

HEADERS = ["单位", "类别", "编号", "状态", "停留天数", "反馈期限", "逾期天数", "反馈对象"]


@dataclass(frozen=True)
class Item:
    body: str
    body_name: str
    kind: str  # 线索 / 案件
    ref: str
    state: str
    days_in_state: int
    feedback_due: date | None
    days_overdue: int
    owed_to: str | None


def _state_names(definition: Definition, kind: str) -> dict[str, str]:
    life = getattr(definition.campaign.lifecycles, kind, None) \
        if definition.campaign.lifecycles else None
    return {s.id: s.name for s in life.states} if life else {}


def supervision(store: Store, definition: Definition, today: date) -> list[Item]:
    c = definition.campaign
    tz = ZoneInfo(c.timezone)
    names: dict[str, str] = {}
    out: list[Item] = []
    lead_states = _state_names(definition, "lead")
    case_life = c.lifecycles.case if c.lifecycles else None
    open_case_states = [s.id for s in case_life.states if not s.terminal] if case_life else []
    with store.engine.connect() as conn:
        names.update(conn.execute(select(bodies.c.id, bodies.c.name)).all())
        owed = (select(obligations.c.body_id, leads.c.natural_key, leads.c.state,
                       leads.c.state_since, obligations.c.due_on, obligations.c.recipient_id)
                .join(leads, and_(leads.c.id == obligations.c.record_id))
                .where(obligations.c.campaign_id == c.id, obligations.c.report_id == FEEDBACK,
                       obligations.c.status == "open"))
        for body, ref, state, since, due, owed_to in conn.execute(owed):
            late = max((today - due).days, 0)
            out.append(Item(body, names.get(body, body), "线索", ref,
                            lead_states.get(state, state),
                            (today - local_day(since, tz)).days, due, late,
                            names.get(owed_to, owed_to) if owed_to else None))
        if open_case_states:
            case_states = _state_names(definition, "case")
            query = select(cases.c.body_id, cases.c.natural_key, cases.c.state,
                           cases.c.state_since).where(cases.c.campaign_id == c.id,
                                                      cases.c.state.in_(open_case_states))
            for body, ref, state, since in conn.execute(query):
                out.append(Item(body or "", names.get(body, body or "（未指定）"), "案件", ref,
                                case_states.get(state, state),
                                (today - local_day(since, tz)).days, None, 0, None))
    return sorted(out, key=lambda i: (-i.days_overdue, i.body_name, -i.days_in_state, i.ref))


def rows(items: list[Item]) -> list[list[str]]:
    return [[i.body_name, i.kind, i.ref, i.state, str(i.days_in_state),
             i.feedback_due.isoformat() if i.feedback_due else "",
             str(i.days_overdue) if i.days_overdue else "", i.owed_to or ""] for i in items]


def as_data(items: list[Item]) -> list[dict[str, object]]:
    return [{"body": i.body, "body_name": i.body_name, "kind": i.kind, "ref": i.ref,
             "state": i.state, "days_in_state": i.days_in_state,
             "feedback_due": i.feedback_due.isoformat() if i.feedback_due else None,
             "days_overdue": i.days_overdue, "owed_to": i.owed_to} for i in items]
