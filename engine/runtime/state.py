"""Reading a campaign's state from the store into the planner's snapshot.

The read half of the tick, kept apart from the writing so the planner's inputs are easy to
see: which obligations exist (synchronised with the loaded definition version), what was
submitted and recorded, which leads and cases have sat in a timed state long enough to
matter, and which phase the campaign is in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from engine.runtime.obligations import Obligation
from engine.runtime.phases import PENDING
from engine.runtime.planner import Snapshot, first_letter_day
from engine.runtime.timers import TimedRecord, timers_of
from engine.spec.loader import Definition
from engine.store.tables import RECORD_TABLES, campaign_phases, leads, letters, submissions
from engine.store.tables import obligations as obligation_rows


def local_day(moment: datetime | date, tz: ZoneInfo) -> date:
    """The campaign-local day of a stored timestamp (SQLite hands back naive UTC)."""
    if not isinstance(moment, datetime):
        return moment
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(tz).date()


def sync_obligations(conn: Connection, obs: Iterable[Obligation], campaign: str,
                     definition_id: int) -> dict[str, int]:
    """Make the table hold this version's obligations; open ones follow changed dates, ones
    the definition dropped are withdrawn. Returns obligation key -> row id."""
    t = obligation_rows
    obs = list(obs)
    ours = and_(t.c.campaign_id == campaign, t.c.origin == "definition")
    count, low, high = conn.execute(select(func.count(), func.min(t.c.definition_id),
                                           func.max(t.c.definition_id)).where(ours)).one()
    if count == len(obs) and low == high == definition_id:  # synced with this version before
        known = {(r, b, p): i for i, r, b, p in conn.execute(
            select(t.c.id, t.c.report_id, t.c.body_id, t.c.period).where(ours))}
        if all((ob.report, ob.body, ob.period) in known for ob in obs):
            return {ob.key: known[(ob.report, ob.body, ob.period)] for ob in obs}
    rows = {(r.report_id, r.body_id, r.period): r for r in conn.execute(select(t).where(ours))}
    ids: dict[str, int] = {}
    for ob in obs:
        row = rows.pop((ob.report, ob.body, ob.period), None)
        if row is None:
            new = conn.execute(insert(t).returning(t.c.id).values(
                campaign_id=campaign, definition_id=definition_id, report_id=ob.report,
                body_id=ob.body, period=ob.period, due_on=ob.due, quota=ob.quota,
                status="open")).scalar_one()
            ids[ob.key] = new
            continue
        ids[ob.key] = row.id
        if row.status == "withdrawn":  # a later version brought it back
            conn.execute(update(t).where(t.c.id == row.id).values(status="open"))
        changed = (row.due_on, row.quota, row.definition_id) != (ob.due, ob.quota, definition_id)
        if row.status in ("open", "withdrawn") and changed:
            conn.execute(update(t).where(t.c.id == row.id).values(
                due_on=ob.due, quota=ob.quota, definition_id=definition_id))
    for row in rows.values():
        if row.status == "open":
            conn.execute(update(t).where(t.c.id == row.id).values(status="withdrawn"))
    return ids


def timed_records(conn: Connection, definition: Definition, today: date) -> list[TimedRecord]:
    """Leads and cases in a timed state since at least the shortest time that could be up.

    The query goes through the ``(campaign, state, state_since)`` index with a calendar-day
    cutoff, which never excludes a record a working-day timer would catch (working days are
    at least as long); the planner then applies each timer exactly."""
    c = definition.campaign
    tz = ZoneInfo(c.timezone)
    shortest: dict[tuple[str, str], int] = {}
    for kind, _, timer in timers_of(definition):
        key = (kind, timer.state)
        shortest[key] = min(shortest.get(key, timer.after_days), timer.after_days)
    out: list[TimedRecord] = []
    for (kind, state), days in shortest.items():
        table = RECORD_TABLES[kind]
        cutoff = datetime.combine(today - timedelta(days=days - 1), time(), tz)
        query = select(table.c.id, table.c.natural_key, table.c.body_id,
                       table.c.state_since).where(
            table.c.campaign_id == c.id, table.c.state == state, table.c.state_since < cutoff)
        out.extend(TimedRecord(kind, rid, ref, state, body, local_day(since, tz))
                   for rid, ref, body, since in conn.execute(query))
    return out


def snapshot(conn: Connection, definition: Definition, obs: list[Obligation],
             ids: dict[str, int], today: date) -> Snapshot:
    """What the planner needs, read so that the cost follows the live work, not the history:
    letter keys only of obligations that can still be planned (open, or below a quota), of
    phase notices, and of the timed records found today."""
    c = definition.campaign
    by_id = {v: k for k, v in ids.items()}
    submitted: dict[str, date] = {}
    counts: dict[str, int] = {}
    tz = ZoneInfo(c.timezone)
    query = (select(submissions.c.obligation_id, func.min(submissions.c.submitted_at),
                    func.coalesce(func.sum(submissions.c.item_count), 0))
             .join(obligation_rows, obligation_rows.c.id == submissions.c.obligation_id)
             .where(obligation_rows.c.campaign_id == c.id)
             .group_by(submissions.c.obligation_id))
    for oid, first, total in conn.execute(query):
        if oid in by_id:
            submitted[by_id[oid]] = local_day(first, tz)
            counts[by_id[oid]] = int(total)
    lead_reports = {r.id for r in c.reports if r.quota is not None and r.quota.of == "leads"}
    short = [ob for ob in obs if ob.report in lead_reports and ob.quota is not None
             and counts.get(ob.key, 0) < ob.quota and first_letter_day(ob) <= today]
    if short:  # leads a body reported count towards its quota automatically
        per_body = dict(conn.execute(select(leads.c.body_id, func.count()).where(
            leads.c.campaign_id == c.id).group_by(leads.c.body_id)).all())
        for ob in short:
            if per_body.get(ob.body):
                counts[ob.key] = max(counts.get(ob.key, 0), per_body[ob.body])
    timed = timed_records(conn, definition, today)
    return Snapshot(recorded_keys(conn, c.id, timed), submitted, counts, timed)


def recorded_keys(conn: Connection, campaign: str, timed: list[TimedRecord]) -> set[str]:
    """Keys already recorded that today's plan could otherwise produce again."""
    live = select(obligation_rows.c.id).where(
        obligation_rows.c.campaign_id == campaign,
        or_(obligation_rows.c.status == "open", obligation_rows.c.quota.is_not(None)))
    keys = set(conn.scalars(select(letters.c.idempotency_key).where(
        letters.c.campaign_id == campaign,
        or_(letters.c.obligation_id.in_(live), letters.c.kind == "phase_start"))))
    for kind in {r.kind for r in timed}:
        ids = [r.id for r in timed if r.kind == kind]
        for start in range(0, len(ids), 5000):
            keys.update(conn.scalars(select(letters.c.idempotency_key).where(
                letters.c.record_kind == kind, letters.c.record_id.in_(ids[start:start + 5000]),
                letters.c.kind.in_(("supervision", "fire")))))
    return keys


def stored_phase(conn: Connection, campaign: str) -> str:
    phase = conn.scalar(select(campaign_phases.c.phase).where(
        campaign_phases.c.campaign_id == campaign))
    return phase or PENDING
