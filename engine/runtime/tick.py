"""One tick of ``campaign run``: the planner applied to the store, a campaign per transaction.

The shell around the pure planner: read a snapshot, plan, write. Letters are inserted with
``ON CONFLICT DO NOTHING`` on their unique idempotency key, so a rerun, a run repeated after a
crash, or a second runner at the same moment inserts nothing twice; the summary counts only
the rows this runner actually inserted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from engine.letters import LetterRenderer, TemplateProblem
from engine.letters.context import letter_contexts
from engine.letters.render import renderer_for
from engine.records.lifecycle import Moved, Refused, lifecycle_machines
from engine.runtime.amend import loaded_version
from engine.runtime.forwarding import feedback_obligations
from engine.runtime.live import live_obligations
from engine.runtime.obligations import obligations
from engine.runtime.phases import PhaseStep, advance, phase_name
from engine.runtime.planner import Letter, plan_day
from engine.runtime.state import adopt_submissions, snapshot, stored_phase, sync_obligations
from engine.runtime.timed import campaign_day, campaign_moment
from engine.runtime.timers import TimerMove
from engine.spec.dates import DateError
from engine.spec.loader import Definition
from engine.store import definitions as defs
from engine.store.db import Store, StoreError
from engine.store.letter_rows import insert_letters, sqlite_write_lock
from engine.store.moves import MoveRequest, move_many_in
from engine.store.tables import campaign_phases, events, submissions
from engine.store.tables import obligations as obligation_rows

RUN_ERRORS: tuple[type[Exception], ...] = (StoreError, LookupError, DateError, TemplateProblem)
"""What a tick reports as a failure of one campaign instead of a traceback."""


@dataclass(frozen=True)
class TickSummary:
    campaign: str
    day: date
    sent: int
    skipped: int
    owing: int
    phase: str = "pending"
    phase_name: str = "未开始"
    planned: tuple[Letter, ...] = ()
    fired: int = 0  # records moved by ``fire`` timers


def loaded_campaigns(store: Store) -> list[str]:
    from engine.store.tables import definitions

    with store.engine.connect() as conn:
        return sorted(conn.scalars(select(definitions.c.campaign_id).distinct()))


def lock_campaign(conn: Connection, campaign: str) -> None:
    """Take the campaign's write lock before reading anything, so runners take turns.

    PostgreSQL: a transaction-scoped advisory lock per campaign; SQLite: its write lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(campaign))))
    else:
        sqlite_write_lock(conn, "obligations")


def tick(store: Store, campaign: str, at: datetime, *, dry_run: bool = False) -> TickSummary:
    """Plan and record one day's letters for one campaign, in one transaction.

    Letters are rendered before anything is written: a broken template fails the tick with
    nothing recorded, rather than recording letters that cannot be sent."""
    definition_id, definition = defs.latest(store, campaign)
    at = campaign_moment(definition, at)
    day = campaign_day(definition, at)
    held, scope = held_by_parent(store, definition)
    # read only if the stored obligations are out of step (15k of them, nationally)
    obs = (ob for ob in obligations(definition) if (ob.report, ob.body, ob.period) not in held)
    renderer = renderer_for(definition)
    with store.engine.begin() as conn:
        lock_campaign(conn, campaign)  # runners on one campaign take turns, not chances
        added = sync_obligations(conn, obs, campaign, definition_id, scope)
        if added:  # new obligations: a plan extending this one may have been chasing them
            adopt_submissions(conn, campaign, children_of(store, campaign), added)
        live = live_obligations(conn, definition, held, day)
        for ob, oid in feedback_obligations(conn, definition, day):  # on leads forwarded so far
            live.obligations.append(ob)
            live.ids[ob.key] = oid
        snap = snapshot(conn, definition, live, day, _plans_counting(store, definition))
        planned, moves = plan_day(definition, live.obligations, snap, day)
        stored, since = stored_phase(conn, campaign)
        steps = advance(definition, stored, day, since)
        owing = sum(1 for ob in live.obligations if ob.due < day and ob.key not in snap.submitted)
        phase = steps[-1].dest if steps else stored
        if dry_run:
            conn.rollback()
            return TickSummary(campaign, day, sum(lt.status == "send" for lt in planned),
                               sum(lt.status == "skip" for lt in planned), owing, phase,
                               phase_name(definition, phase), tuple(planned), len(moves))
        now = datetime.now(UTC)
        context = letter_contexts(definition, day)
        with renderer.batch():  # the day's shared parts are not changed while it lasts
            rows = [_letter_row(lt, live.ids, renderer, context, now, day) for lt in planned]
        sent = insert_letters(conn, [r for r in rows if r["status"] == "planned"])
        skipped = insert_letters(conn, [r for r in rows if r["status"] != "planned"])
        _record_phase_steps(conn, campaign, definition_id, steps, at)
        fired = _apply_timer_moves(conn, definition, moves, at)
    return TickSummary(campaign, day, sent, skipped, owing, phase, phase_name(definition, phase),
                       tuple(planned), fired)


def held_by_parent(store: Store, definition: Definition,
                   ) -> tuple[set[tuple[str, str, str]], str]:
    """Obligations a plan inherited that its parent campaign, loaded in the same store,
    already chases: the parent's letters go out, the child's copy would be a duplicate.
    (A province's own deployment, without the national plan loaded, keeps them all.)
    Also names the resulting subset for :func:`sync_obligations`: ``all``, or the parent's
    version the rest were taken from."""
    parent = definition.campaign.extends
    if parent is None or parent not in loaded_campaigns(store):
        return set(), "all"
    parent_id, parent_definition = defs.latest(store, parent)
    held = {(ob.report, ob.body, ob.period) for ob in obligations(parent_definition)}
    return held, f"without {parent} #{parent_id}"


def _plans_counting(store: Store, definition: Definition) -> list[str]:
    """The plans whose leads count towards this campaign's lead quotas (looked up only
    when it has such a quota)."""
    c = definition.campaign
    if not any(r.quota is not None and r.quota.of == "leads" for r in c.reports):
        return []
    return children_of(store, c.id)


def children_of(store: Store, campaign: str) -> list[str]:
    """The loaded campaigns whose plans extend ``campaign``, directly or through another plan
    (national → province → city), nearest first.

    A plan is read as it was loaded: from its file, or, while that file is being edited or
    has gone, from the text stored when it was loaded. Otherwise a province editing its plan
    before reloading it would drop its leads from the national quota, and the national run
    would chase it with letters that cannot be recalled. A plan that cannot be checked
    either way is left out here; its own tick says why."""
    parents = {other: parent for other in loaded_campaigns(store)
               if other != campaign and (parent := _extends(store, other)) is not None}
    out: list[str] = []
    level = [campaign]
    while level:
        level = sorted(c for c, parent in parents.items()
                       if parent in level and c not in out and c != campaign)
        out += level
    return out


def _extends(store: Store, campaign: str) -> str | None:
    """The parent the latest loaded version of ``campaign`` names (None: none, or that
    version cannot be checked now)."""
    try:
        return defs.latest(store, campaign)[1].campaign.extends
    except StoreError:
        pass
    try:
        stored = loaded_version(store, campaign)
    except StoreError:
        return None
    return stored.definition.campaign.extends if stored is not None else None


def _letter_row(lt: Letter, ids: dict[str, int], renderer: LetterRenderer,
                context: Callable[[Letter], dict[str, Any]], now: datetime, today: date,
                ) -> dict[str, object]:
    """A planned letter as its row. One sent is filed under the day it is written (and
    dated): a run that catches up sends the latest letter due, and it must not sit under the
    day it was scheduled for, dated the next. A superseded one keeps its scheduled day."""
    text = subject = None
    if lt.status == "send":
        text = renderer.render(lt.kind, context(lt))
        # the first line, from a head long enough for the 300 kept (not every line split)
        subject = text.lstrip("# ")[:301].splitlines()[0][:300] if text.strip() else None
    return {"idempotency_key": lt.key, "campaign_id": lt.campaign, "kind": lt.kind,
            "recipient_id": lt.recipient,
            "obligation_id": ids.get(lt.obligation) if lt.obligation else None,
            "record_kind": lt.record.kind if lt.record else None,
            "record_id": lt.record.id if lt.record else None,
            "step": lt.step, "planned_for": today if lt.status == "send" else lt.scheduled,
            "status": "planned" if lt.status == "send" else "skipped",
            "subject": subject, "body": text, "created_at": now}


def _record_phase_steps(conn: Connection, campaign: str, definition_id: int,
                        steps: list[PhaseStep], at: datetime) -> None:
    """Move the stored phase and write one audit event per step (under the campaign lock)."""
    if not steps:
        return
    now = datetime.now(UTC)
    conn.execute(insert(events), [
        {"occurred_at": now, "campaign_id": campaign, "record_kind": "campaign", "record_id": 0,
         "trigger": "correct" if st.corrected else "advance", "from_state": st.source,
         "to_state": st.dest, "actor": "campaign run",
         "reason": (f"按现行阶段起止日期更正所处阶段（原记自{st.day.isoformat()}起）"
                    if st.corrected else f"按日期进入（{st.day.isoformat()}）"),
         "definition_id": definition_id} for st in steps])
    values = {"phase": steps[-1].dest, "since": steps[-1].day, "updated_at": now}
    if conn.execute(update(campaign_phases).where(
            campaign_phases.c.campaign_id == campaign).values(**values)).rowcount == 0:
        conn.execute(insert(campaign_phases).values(campaign_id=campaign, **values))


def _apply_timer_moves(conn: Connection, definition: Definition, moves: list[TimerMove],
                       at: datetime) -> int:
    """Fire the lifecycle triggers of ``fire`` timers; a guard that refuses leaves the record
    where it is, and the timer is recorded as acted on either way so it does not retry daily."""
    if not moves:
        return 0
    machines = lifecycle_machines(definition)
    outcomes: dict[str, Moved | Refused] = {}
    for kind in sorted({m.record.kind for m in moves}):
        mine = [m for m in moves if m.record.kind == kind]
        done = move_many_in(conn, kind, [MoveRequest(m.record.id, m.trigger,
                                                     f"计时规则 {m.timer} 到期") for m in mine],
                            machines[kind], actor="campaign run", at=at)
        outcomes.update({m.key: o for m, o in zip(mine, done, strict=True)})
    now, day = datetime.now(UTC), campaign_day(definition, at)
    insert_letters(conn, [{
        "idempotency_key": m.key, "campaign_id": definition.campaign.id, "kind": "fire",
        "recipient_id": m.record.body or "-", "record_kind": m.record.kind,
        "record_id": m.record.id, "step": 0, "planned_for": day,
        "status": "done" if isinstance(outcomes[m.key], Moved) else "refused",
        "subject": None, "body": None, "created_at": now} for m in moves])
    return sum(isinstance(o, Moved) for o in outcomes.values())


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
    at = campaign_moment(definition, at)
    obs = list(obligations(definition))
    match = [ob for ob in obs if (ob.report, ob.body, ob.period) == (report, body, period)]
    which = f"{report}（{period}）" if period else report
    if not match:
        raise LookupError(f"{body} 没有 {which} 的报送义务")
    held, scope = held_by_parent(store, definition)
    with store.engine.begin() as conn:
        lock_campaign(conn, campaign)
        added = sync_obligations(conn, [ob for ob in obs if (ob.report, ob.body, ob.period)
                                        not in held], campaign, definition_id, scope)
        if added:  # as the tick does: no churn, and what a child plan was sent is kept
            adopt_submissions(conn, campaign, children_of(store, campaign), added)
        oid = conn.scalar(select(obligation_rows.c.id).where(
            obligation_rows.c.campaign_id == campaign, obligation_rows.c.origin == "definition",
            obligation_rows.c.report_id == report, obligation_rows.c.body_id == body,
            obligation_rows.c.period == period))
        if oid is None or (report, body, period) in held:  # the parent chases it now
            raise LookupError(f"{body} 的 {which} 由上级专项“{definition.campaign.extends}”"
                              "督办，请在该专项下报送")
        conn.execute(insert(submissions).values(
            obligation_id=oid, submitted_at=at, actor=actor, file_name=file_name,
            file_sha256=file_sha256, item_count=item_count))
        conn.execute(update(obligation_rows).where(obligation_rows.c.id == oid,
                                                   obligation_rows.c.status == "open")
                     .values(status="fulfilled", fulfilled_at=at))
    return campaign_day(definition, at) <= match[0].due
