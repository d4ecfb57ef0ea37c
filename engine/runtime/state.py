"""Reading a campaign's state from the store into the planner's snapshot.

The read half of the tick, kept apart from the writing so the planner's inputs are easy to
see: which obligations exist (synchronised with the loaded definition version), what was
submitted and recorded, which leads and cases have sat in a timed state long enough to
matter, and which phase the campaign is in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, and_, func, insert, literal, select, union_all, update

from engine.runtime.obligations import Obligation
from engine.runtime.phases import PENDING
from engine.runtime.planner import Snapshot, first_letter_day
from engine.runtime.timed import timed_records
from engine.spec.loader import Definition
from engine.store.tables import (
    campaign_phases,
    leads,
    letters,
    obligation_syncs,
    submissions,
)
from engine.store.tables import obligations as obligation_rows

if TYPE_CHECKING:
    from engine.runtime.live import Live


def sync_obligations(conn: Connection, obs: Iterable[Obligation], campaign: str,
                     definition_id: int, scope: str = "all") -> list[tuple[str, str, str]]:
    """Make the table hold this version's obligations; open ones follow changed dates, ones
    the definition dropped are withdrawn. Returns the (report, body, period) of the rows it
    added.

    ``scope`` names which of the version's obligations ``obs`` are (``all``, or those left
    after a loaded parent's). When the table was last synced with the same version and scope,
    nothing can have changed (only this function writes definition rows), so nothing is read
    (a national campaign's tens of thousands of rows are not read every day)."""
    t, marker = obligation_rows, obligation_syncs
    if conn.execute(select(marker.c.definition_id, marker.c.scope).where(
            marker.c.campaign_id == campaign)).first() == (definition_id, scope):
        return []
    obs, added = list(obs), []
    ours = and_(t.c.campaign_id == campaign, t.c.origin == "definition")
    rows = {(r.report_id, r.body_id, r.period): r for r in conn.execute(select(t).where(ours))}
    for ob in obs:
        row = rows.pop((ob.report, ob.body, ob.period), None)
        if row is None:
            conn.execute(insert(t).values(
                campaign_id=campaign, definition_id=definition_id, report_id=ob.report,
                body_id=ob.body, period=ob.period, due_on=ob.due, quota=ob.quota,
                status="open"))
            added.append((ob.report, ob.body, ob.period))
            continue
        if row.status == "withdrawn":  # a later version brought it back
            conn.execute(update(t).where(t.c.id == row.id).values(status="open"))
        changed = (row.due_on, row.quota, row.definition_id) != (ob.due, ob.quota, definition_id)
        if row.status in ("open", "withdrawn") and changed:
            conn.execute(update(t).where(t.c.id == row.id).values(
                due_on=ob.due, quota=ob.quota, definition_id=definition_id))
    for row in rows.values():
        if row.status == "open":
            conn.execute(update(t).where(t.c.id == row.id).values(status="withdrawn"))
    stamp = {"definition_id": definition_id, "scope": scope, "synced_at": datetime.now(UTC)}
    if conn.execute(update(marker).where(marker.c.campaign_id == campaign).values(
            **stamp)).rowcount == 0:
        conn.execute(insert(marker).values(campaign_id=campaign, **stamp))
    return added


def adopt_submissions(conn: Connection, campaign: str, children: Sequence[str],
                      added: Collection[tuple[str, str, str]]) -> int:
    """A parent campaign loaded after plans that extend it takes over the obligations they
    had been chasing (see ``held_by_parent``); what a body already submitted under its plan
    counts under the parent too, or the body would be chased for a report it sent on time.
    The submissions are copied to the parent's new obligations, which are then fulfilled.
    Returns how many obligations were taken over fulfilled."""
    if not children or not added:
        return 0
    t, s, wanted = obligation_rows, submissions, set(added)
    done = [r for r in conn.execute(select(
        t.c.id, t.c.report_id, t.c.body_id, t.c.period, t.c.fulfilled_at).where(
        t.c.campaign_id.in_(children), t.c.origin == "definition", t.c.status == "fulfilled"))
        if (r.report_id, r.body_id, r.period) in wanted]
    if not done:
        return 0
    ours = {(r.report_id, r.body_id, r.period): r.id for r in conn.execute(select(
        t.c.id, t.c.report_id, t.c.body_id, t.c.period).where(
        t.c.campaign_id == campaign, t.c.origin == "definition", t.c.status == "open"))}
    taken = 0
    for r in done:
        oid = ours.pop((r.report_id, r.body_id, r.period), None)
        if oid is None:  # two plans of one parent both had it: the first one counts
            continue
        copies = [{**{k: v for k, v in row.items() if k != "id"}, "obligation_id": oid}
                  for row in conn.execute(select(s).where(s.c.obligation_id == r.id)).mappings()]
        if copies:
            conn.execute(insert(s), copies)
        conn.execute(update(t).where(t.c.id == oid).values(status="fulfilled",
                                                         fulfilled_at=r.fulfilled_at))
        taken += 1
    return taken


def snapshot(conn: Connection, definition: Definition, live: Live, today: date,
             plans: Sequence[str] = ()) -> Snapshot:
    """What the planner needs about the ``live`` obligations (see :mod:`engine.runtime.live`)
    and the timed records, read so that the cost follows the live work, not the history."""
    c = definition.campaign
    counts = dict(live.counts)
    lead_reports = {r.id for r in c.reports if r.quota is not None and r.quota.of == "leads"}
    for ob in live.obligations:  # leads a body reported count towards its quota automatically
        if ob.report in lead_reports and ob.quota is not None and counts.get(ob.key, 0) < \
                ob.quota and first_letter_day(ob) <= today:
            counts[ob.key] = max(counts.get(ob.key, 0),
                                 _leads_of(conn, (c.id, *plans), ob.body, ob.quota))
    timed, timer_keys = timed_records(conn, definition, today)
    recorded = recorded_keys(conn, c.id, [live.ids[ob.key] for ob in live.obligations])
    return Snapshot(recorded | timer_keys, live.submitted, counts, timed)


def _leads_of(conn: Connection, campaigns: Sequence[str], body: str, enough: int) -> int:
    """How many leads ``body`` reported in the campaign (those it still holds and those it
    sent on), counted no further than ``enough``: a quota needs only to know whether it is
    met, and counting a province's tens of thousands of leads every day would make the tick
    grow with the records stored. Each half is read through its own index, both in one
    statement (a round trip per quota'd obligation is what a PostgreSQL tick pays for).
    ``campaigns`` are the campaign and the loaded plans extending it: leads a province logs
    under its own plan count towards the parent's quota it took over."""
    t = leads
    where = t.c.campaign_id == campaigns[0] if len(campaigns) == 1 else \
        t.c.campaign_id.in_(campaigns)
    halves = [select(t.c.id).where(where, mine).limit(enough).subquery()
              for mine in (and_(t.c.body_id == body, t.c.reported_by.is_(None)),
                           t.c.reported_by == body)]
    both = union_all(*(select(half.c.id) for half in halves)).subquery()
    return min(int(conn.scalar(select(func.count()).select_from(both)) or 0), enough)


def recorded_keys(conn: Connection, campaign: str, obligation_ids: list[int]) -> set[str]:
    """Keys already recorded of letters about these obligations, and of phase notices.

    Both are read from partial indexes alone (see ``letters`` in :mod:`engine.store.tables`).
    The kind is written into the statement, not bound: PostgreSQL's generic plan for a bound
    kind could not use an index that holds phase notices only."""
    keys = set(conn.scalars(select(letters.c.idempotency_key).where(
        letters.c.campaign_id == campaign,
        letters.c.kind == literal("phase_start", literal_execute=True))).all())
    for start in range(0, len(obligation_ids), 500):  # fetched at once, not row by row
        keys.update(conn.scalars(select(letters.c.idempotency_key).where(
            letters.c.obligation_id.in_(obligation_ids[start:start + 500]))).all())
    return keys


def stored_phase(conn: Connection, campaign: str) -> tuple[str, date | None]:
    """The phase the campaign was last recorded in, and the day it entered it."""
    row = conn.execute(select(campaign_phases.c.phase, campaign_phases.c.since).where(
        campaign_phases.c.campaign_id == campaign)).first()
    return (row.phase, row.since) if row is not None else (PENDING, None)
