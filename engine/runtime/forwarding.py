"""Forwarding a lead: the move, the new holder, the forwarding letter and the feedback owed.

All in one transaction, so a lead is never moved without its letter and its feedback
obligation, nor the other way round. The letter's idempotency key names the lead and the
receiving body, so forwarding the same lead to the same body twice (a retried command)
writes one letter. The feedback obligation is an ordinary obligation row (origin
``forwarding``): the daily run reminds, chases and escalates it like any report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, and_, func, insert, select, update

from engine.letters.context import forwarding_context, shown_ref
from engine.letters.render import renderer_for
from engine.records.lifecycle import Refused, lifecycle_machines
from engine.records.routing import DOWN, NoRoute, Route, province_of, route_to, suggest
from engine.runtime.obligations import Obligation
from engine.runtime.timed import campaign_day, campaign_moment
from engine.spec.loader import Definition
from engine.spec.model import ReminderPolicy, effective_reminders
from engine.store import definitions as defs
from engine.store import records
from engine.store.db import Store
from engine.store.letter_rows import insert_letters
from engine.store.tables import leads, obligations, submissions

FEEDBACK = "lead_feedback"
"""The report id of the feedback a body owes on a lead forwarded to it."""


class ForwardingError(Exception):
    """A lead that cannot be forwarded as asked; the message says why (Chinese)."""


@dataclass(frozen=True)
class Forwarded:
    lead_id: int
    ref: str
    route: Route
    feedback_due: date | None
    letter_written: bool


def forward_lead(store: Store, campaign: str, lead_id: int, *, actor: str, at: datetime,
                 to: str | None = None, dry_run: bool = False) -> Forwarded:
    """Move one lead to where routing (or ``to``) sends it, with its letter and feedback."""
    definition_id, definition = defs.latest(store, campaign)
    at = campaign_moment(definition, at)
    machine = lifecycle_machines(definition).get("lead")
    if machine is None:
        raise ForwardingError(f"专项“{campaign}”没有线索生命周期")
    with store.engine.begin() as conn:
        row = conn.execute(select(leads).where(leads.c.id == lead_id,
                                               leads.c.campaign_id == campaign)).first()
        if row is None:
            raise ForwardingError(f"专项“{campaign}”中没有编号为 {lead_id} 的线索")
        try:
            route = route_to(definition, row.state, to) if to else suggest(
                definition, row.state, row.body_id, row.infringement_division)
        except NoRoute as exc:
            raise ForwardingError(f"线索 {row.natural_key}：{exc}") from None
        if dry_run:
            conn.rollback()
            return Forwarded(lead_id, row.natural_key, route, None, False)
        outcome = records.move_in(conn, "lead", lead_id, route.trigger, machine, actor=actor,
                                  reason=route.reason, at=at)
        if isinstance(outcome, Refused):
            why = "；".join(f.message() for f in outcome.failures) or \
                f"当前状态下不能执行 {route.trigger}（可执行：{'、'.join(outcome.valid_triggers)}）"
            raise ForwardingError(f"线索 {row.natural_key} 未能转办：{why}")
        conn.execute(update(leads).where(leads.c.id == lead_id).values(  # the reporter keeps it
            body_id=route.to, reported_by=func.coalesce(leads.c.reported_by, row.body_id)))
        if not route.forwards or route.to == row.body_id:  # reported up, or handled at home
            return Forwarded(lead_id, row.natural_key, route, None, False)
        day = campaign_day(definition, at)
        assert definition.campaign.routing is not None  # suggest/route_to checked it
        due = day + timedelta(days=definition.campaign.routing.feedback_days)
        sender = _sender(definition, route, row.body_id)
        _owe_feedback(conn, definition_id, campaign, lead_id, route.to, sender, due)
        text = renderer_for(definition).render("forwarding", forwarding_context(
            definition, records.fields_of(row, leads), shown_ref(row.natural_key, lead_id),
            sender, route.to, day, due))
        written = bool(insert_letters(conn, [{
            "idempotency_key": f"{campaign}:forward:lead:{lead_id}:{route.to}",
            "campaign_id": campaign, "kind": "forwarding", "recipient_id": route.to,
            "record_kind": "lead", "record_id": lead_id, "step": 0, "planned_for": day,
            "status": "planned", "subject": text.lstrip("# ").splitlines()[0][:300],
            "body": text, "created_at": datetime.now(UTC)}]))
    return Forwarded(lead_id, row.natural_key, route, due, written)


def _sender(definition: Definition, route: Route, holder: str | None) -> str:
    """Who forwards: the office sends leads down to provinces; a province assigns the leads
    its counties collected (the collecting county still holds them until then)."""
    office = definition.campaign.routing.office if definition.campaign.routing else ""
    if route.trigger == DOWN or holder is None:
        return office
    province = province_of(definition.bodies, holder)
    return province.id if province is not None else holder


def _owe_feedback(conn: Connection, definition_id: int, campaign: str, lead_id: int,
                  body: str, recipient: str, due: date) -> None:
    t = obligations
    period = f"lead:{lead_id}"
    found = conn.execute(select(t.c.id).where(
        t.c.campaign_id == campaign, t.c.report_id == FEEDBACK, t.c.body_id == body,
        t.c.period == period)).first()
    if found is None:
        conn.execute(insert(t).values(
            campaign_id=campaign, definition_id=definition_id, report_id=FEEDBACK, body_id=body,
            period=period, due_on=due, status="open", origin="forwarding",
            recipient_id=recipient, record_kind="lead", record_id=lead_id))
    else:  # forwarded to the same body again (it came back): a fresh period to report back
        conn.execute(update(t).where(t.c.id == found.id).values(
            due_on=due, status="open", recipient_id=recipient))


def awaiting(store: Store, campaign: str) -> list[int]:
    """Leads whose next move is a routing one: consolidated at a province, or reported to
    the office (forwarded leads wait for the province's decision, so ``--all`` leaves them)."""
    with store.engine.connect() as conn:
        return list(conn.scalars(select(leads.c.id).where(
            leads.c.campaign_id == campaign, leads.c.state.in_(("consolidated", "reported")))
            .order_by(leads.c.id)))


def feedback_obligations(conn: Connection, definition: Definition, today: date,
                         ) -> Iterator[tuple[Obligation, int]]:
    """Open feedback obligations on forwarded leads whose first reminder can have come, as
    obligations the planner plans (thousands of leads may be awaiting feedback, most of
    them not yet near their due day; the ``(status, due_on)`` index finds the rest)."""
    c, index = definition.campaign, definition.bodies
    policy = effective_reminders(c)
    if c.routing is not None and c.routing.reminders is not None:  # routing's keys win
        own = c.routing.reminders
        policy = dataclasses.replace(policy, **{
            f.name: getattr(own, f.name) for f in dataclasses.fields(ReminderPolicy)
            if not f.metadata.get("internal") and getattr(own, f.name) is not None})
    ahead = max(policy.before_due or (0,))
    if (policy.calendar or "calendar_days") != "calendar_days":
        ahead = ahead * 3 + 14  # working days back, with weekends and the longest holiday
    query = (select(obligations.c.id, obligations.c.body_id, obligations.c.period,
                    obligations.c.due_on, obligations.c.recipient_id, leads.c.natural_key,
                    leads.c.id)
             .join(leads, and_(leads.c.id == obligations.c.record_id))
             .where(obligations.c.status == "open",
                    obligations.c.due_on <= today + timedelta(days=ahead),
                    obligations.c.campaign_id == c.id, obligations.c.origin == "forwarding"))
    for oid, body, period, due, recipient, ref, lead_id in conn.execute(query):
        superior = index.superior(body) if body in index else None
        owed_to = recipient or (c.routing.office if c.routing else "")
        yield Obligation(c.id, FEEDBACK, body, period, due, owed_to,
                         superior.id if superior else None, None, policy,
                         title=f"转办线索{shown_ref(ref, lead_id)}的办理情况反馈"), oid


def record_feedback(store: Store, campaign: str, lead_id: int, *, body: str | None,
                    actor: str, at: datetime, note: str | None = None) -> str:
    """Record that ``body`` (default: the lead's holder) reported back on a lead."""
    with store.engine.begin() as conn:
        holder = conn.scalar(select(leads.c.body_id).where(leads.c.id == lead_id))
        who = body or holder
        t = obligations
        oid = conn.scalar(select(t.c.id).where(
            t.c.campaign_id == campaign, t.c.report_id == FEEDBACK, t.c.body_id == who,
            t.c.period == f"lead:{lead_id}", t.c.status == "open"))
        if oid is None:
            raise ForwardingError(f"{who or '该单位'}对线索 {lead_id} 没有待反馈的事项")
        conn.execute(insert(submissions).values(obligation_id=oid, submitted_at=at, actor=actor,
                                                note=note))
        conn.execute(update(t).where(t.c.id == oid).values(status="fulfilled", fulfilled_at=at))
    return str(who)
