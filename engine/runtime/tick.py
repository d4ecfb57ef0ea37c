"""One tick of ``campaign run``: the planner applied to the store, a campaign per transaction.

The shell around the pure planner: read a snapshot, plan, write. Letters are inserted with
``ON CONFLICT DO NOTHING`` on their unique idempotency key, so a rerun, a run repeated after a
crash, or a second runner at the same moment inserts nothing twice; the summary counts only
the rows this runner actually inserted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.runtime.obligations import Obligation, obligations
from engine.runtime.planner import Letter, Snapshot, plan
from engine.spec.loader import Definition
from engine.store import definitions as defs
from engine.store.db import Store, StoreError
from engine.store.tables import leads, letters, submissions
from engine.store.tables import obligations as obligation_rows

RUN_ERRORS: tuple[type[Exception], ...] = (StoreError, LookupError)
"""What a tick reports as a failure of one campaign instead of a traceback."""


@dataclass(frozen=True)
class TickSummary:
    campaign: str
    day: date
    sent: int
    skipped: int
    owing: int
    planned: tuple[Letter, ...] = ()


def campaign_day(definition: Definition, at: datetime) -> date:
    """The calendar day ``at`` falls on in the campaign's time zone."""
    moment = at if at.tzinfo else at.replace(tzinfo=ZoneInfo(definition.campaign.timezone))
    return moment.astimezone(ZoneInfo(definition.campaign.timezone)).date()


def loaded_campaigns(store: Store) -> list[str]:
    from engine.store.tables import definitions

    with store.engine.connect() as conn:
        return sorted(conn.scalars(select(definitions.c.campaign_id).distinct()))


def sync_obligations(conn: Connection, obs: Iterable[Obligation], campaign: str,
                     definition_id: int) -> dict[str, int]:
    """Make the table hold this version's obligations; open ones follow changed dates, ones
    the definition dropped are withdrawn. Returns obligation key -> row id."""
    t = obligation_rows
    rows = {(r.report_id, r.body_id, r.period): r for r in conn.execute(
        select(t).where(t.c.campaign_id == campaign))}
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
        if row.status == "open" and (row.due_on != ob.due or row.quota != ob.quota
                                     or row.definition_id != definition_id):
            conn.execute(update(t).where(t.c.id == row.id).values(
                due_on=ob.due, quota=ob.quota, definition_id=definition_id))
    for row in rows.values():
        if row.status == "open":
            conn.execute(update(t).where(t.c.id == row.id).values(status="withdrawn"))
    return ids


def snapshot(conn: Connection, definition: Definition, obs: list[Obligation],
             ids: dict[str, int]) -> Snapshot:
    c = definition.campaign
    recorded = set(conn.scalars(select(letters.c.idempotency_key).where(
        letters.c.campaign_id == c.id)))
    by_id = {v: k for k, v in ids.items()}
    submitted: dict[str, date] = {}
    counts: dict[str, int] = {}
    query = select(submissions.c.obligation_id, func.min(submissions.c.submitted_at),
                   func.coalesce(func.sum(submissions.c.item_count), 0)).group_by(
        submissions.c.obligation_id)
    for oid, first, total in conn.execute(query):
        if oid in by_id:
            submitted[by_id[oid]] = first.date() if isinstance(first, datetime) else first
            counts[by_id[oid]] = int(total)
    lead_reports = {r.id for r in c.reports if r.quota is not None and r.quota.of == "leads"}
    if lead_reports:  # leads a body reported count towards its quota automatically
        per_body = dict(conn.execute(select(leads.c.body_id, func.count()).where(
            leads.c.campaign_id == c.id).group_by(leads.c.body_id)).all())
        for ob in obs:
            if ob.report in lead_reports and per_body.get(ob.body):
                counts[ob.key] = max(counts.get(ob.key, 0), per_body[ob.body])
    return Snapshot(recorded, submitted, counts)


def _insert_ignoring_duplicates(conn: Connection, rows: list[dict[str, object]]) -> int:
    """Insert letters whose key is new; the count comes from RETURNING, which (unlike
    rowcount, -1 under psycopg for this statement) says exactly which rows went in."""
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(letters).on_conflict_do_nothing(
        index_elements=["idempotency_key"]).returning(letters.c.id)
    return len(conn.execute(stmt, rows).all())


def lock_campaign(conn: Connection, campaign: str) -> None:
    """Take the campaign's write lock before reading anything, so runners take turns.

    PostgreSQL: a transaction-scoped advisory lock per campaign. SQLite: a first statement
    that writes (nothing) takes the database's write lock; taken after a read it would fail
    with a stale snapshot instead of waiting."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(campaign))))
    else:
        conn.exec_driver_sql("UPDATE obligations SET id = id WHERE 0")


def tick(store: Store, campaign: str, at: datetime, *, dry_run: bool = False) -> TickSummary:
    """Plan and record one day's letters for one campaign, in one transaction."""
    definition_id, definition = defs.latest(store, campaign)
    day = campaign_day(definition, at)
    obs = list(obligations(definition))
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        lock_campaign(conn, campaign)  # runners on one campaign take turns, not chances
        ids = sync_obligations(conn, obs, campaign, definition_id)
        snap = snapshot(conn, definition, obs, ids)
        planned = plan(definition, obs, snap, day)
        owing = sum(1 for ob in obs if ob.due <= day and ob.key not in snap.submitted)
        if dry_run:
            conn.rollback()
            return TickSummary(campaign, day, sum(lt.status == "send" for lt in planned),
                               sum(lt.status == "skip" for lt in planned), owing,
                               tuple(planned))
        rows = [{"idempotency_key": lt.key, "campaign_id": campaign, "kind": lt.kind,
                 "recipient_id": lt.recipient,
                 "obligation_id": ids.get(lt.key.rsplit(":", 2)[0]),
                 "step": int(lt.key.rsplit(":", 1)[1]) if lt.report else 0,
                 "planned_for": lt.scheduled, "status": "planned" if lt.status == "send"
                 else "skipped", "created_at": now} for lt in planned]
        sent = _insert_ignoring_duplicates(conn, [r for r in rows if r["status"] == "planned"])
        skipped = _insert_ignoring_duplicates(conn, [r for r in rows if r["status"] != "planned"])
    return TickSummary(campaign, day, sent, skipped, owing, tuple(planned))


@dataclass(frozen=True)
class TickFailure:
    """A campaign whose tick failed; the others still ran."""

    campaign: str
    message: str


class NothingLoaded(LookupError):
    """No campaign in the store: the operator has to ``campaign load`` first."""


def run_campaigns(store: Store, at: datetime, only: Iterable[str] = (), *,
                  dry_run: bool = False) -> list[TickSummary | TickFailure]:
    """One tick over every loaded campaign (or ``only`` these), each in its own transaction,
    so one broken campaign does not stop the others. ``campaign run`` and the daemon both
    come through here."""
    campaigns = list(only) or loaded_campaigns(store)
    if not campaigns:
        raise NothingLoaded("数据库中没有已载入的专项：请先运行 campaign load campaigns/*.yaml")
    out: list[TickSummary | TickFailure] = []
    for campaign in campaigns:
        try:
            out.append(tick(store, campaign, at, dry_run=dry_run))
        except RUN_ERRORS as exc:
            out.append(TickFailure(campaign, str(exc)))
    return out


def record_submission(store: Store, campaign: str, report: str, body: str, period: str, *,
                      actor: str, at: datetime, item_count: int | None = None,
                      file_name: str | None = None, file_sha256: str | None = None) -> bool:
    """Record that ``body`` fulfilled an obligation; returns whether it was on time."""
    definition_id, definition = defs.latest(store, campaign)
    obs = list(obligations(definition))
    match = [ob for ob in obs if (ob.report, ob.body, ob.period) == (report, body, period)]
    if not match:
        which = f"{report}（{period}）" if period else report
        raise LookupError(f"{body} 没有 {which} 的报送义务")
    with store.engine.begin() as conn:
        lock_campaign(conn, campaign)
        ids = sync_obligations(conn, obs, campaign, definition_id)
        oid = ids[match[0].key]
        conn.execute(insert(submissions).values(
            obligation_id=oid, submitted_at=at, actor=actor, file_name=file_name,
            file_sha256=file_sha256, item_count=item_count))
        conn.execute(update(obligation_rows).where(obligation_rows.c.id == oid,
                                                   obligation_rows.c.status == "open")
                     .values(status="fulfilled", fulfilled_at=at))
    return campaign_day(definition, at) <= match[0].due
