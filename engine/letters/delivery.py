"""Delivering recorded letters exactly once: claim, hand over, settle.

A letter goes ``planned`` -> ``claimed`` -> ``sending`` -> ``sent`` (or back to ``planned``
with a retry time, or ``failed`` for good). The claim of a batch is its own committed
transaction, taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (the SQLite write lock
elsewhere), so two senders never claim the same letter; each letter is marked ``sending`` just
before it is handed to the channel, and its outcome is settled in another. A process that
dies leaves the letters it had claimed but not yet handed over ``claimed``: they were never
sent, so a stale claim is simply taken again (and an interrupted sender gives them back at
once). The letter it was handing over stays ``sending``: for a mail channel nobody can tell
whether it went out, so it is reported as uncertain and never resent on its own (``campaign
letters resend`` is the operator's decision), as is a letter the mail server took whole but
never confirmed; the file channel rewrites the same file, so there a stale ``sending`` it was
writing itself (into the same outbox folder, see
:func:`~engine.letters.channels.file_channel_name`) is taken again too. Hence no letter is
sent twice, and none is recorded as sent that was not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, exists, insert, or_, select, update

from engine.letters.channels import Channel, DeliveryError, Outgoing
from engine.store.db import Store
from engine.store.letter_rows import sqlite_write_lock
from engine.store.tables import bodies, events, letters, obligations

SETTLED = select(obligations.c.id).where(obligations.c.status.in_(("fulfilled", "withdrawn")))
"""Obligations met or withdrawn: a letter about one of them is moot."""
MOOT = "报送义务已完成或已撤销，不再发送"
CLAIM_BATCH = 200
STALE_CLAIM = timedelta(minutes=30)
"""A claim older than this is a crashed sender's (a letter takes seconds, not minutes)."""


@dataclass
class Delivered:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    uncertain: int = 0
    errors: list[str] = field(default_factory=list)


def _claim(store: Store, channel: Channel, now: datetime, campaign: str | None,
           ids: list[int] | None) -> list[Outgoing]:
    due = or_(letters.c.next_attempt_at.is_(None), letters.c.next_attempt_at <= now)
    not_this_pass = or_(letters.c.claimed_at.is_(None), letters.c.claimed_at < now)
    stale = letters.c.claimed_at < now - STALE_CLAIM
    ready = or_(and_(letters.c.status == "planned", due, not_this_pass),  # a retry waits a pass
                and_(letters.c.status == "claimed", stale))  # a dead sender's, never handed over
    if channel.idempotent:  # even what it was sending may be taken: rewriting is harmless
        ready = or_(ready, and_(letters.c.status == "sending", stale,  # its own, not a mail's
                                letters.c.last_error.is_(None),
                                letters.c.channel == channel.name))  # its own folder
    query = (select(letters.c.id, letters.c.idempotency_key, letters.c.campaign_id,
                    letters.c.kind, letters.c.recipient_id, letters.c.planned_for,
                    letters.c.subject, letters.c.body)
             .where(ready, letters.c.body.is_not(None))
             .order_by(letters.c.id).limit(CLAIM_BATCH))
    if campaign:
        query = query.where(letters.c.campaign_id == campaign)
    if ids is not None:
        query = query.where(letters.c.id.in_(ids))
    with store.engine.begin() as conn:
        sqlite_write_lock(conn)  # before reading what to claim
        _drop_moot(conn, campaign)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=letters)
        rows = conn.execute(query).all()
        if not rows:
            return []
        conn.execute(update(letters).where(letters.c.id.in_([r.id for r in rows])).values(
            status="claimed", claimed_at=now, channel=channel.name))
        names = dict(conn.execute(select(bodies.c.id, bodies.c.name).where(
            bodies.c.id.in_({r.recipient_id for r in rows}))).all())
    return [Outgoing(r.id, r.idempotency_key, r.campaign_id, r.kind, r.recipient_id,
                     names.get(r.recipient_id, r.recipient_id), r.planned_for,
                     r.subject or "", r.body) for r in rows]


def _drop_moot(conn: Connection, campaign: str | None) -> None:
    """Letters recorded but not yet sent whose obligation has since been fulfilled or
    withdrawn (an amendment dropped it) are moot: record them as skipped, never send them."""
    query = update(letters).where(letters.c.status == "planned",
                                  letters.c.obligation_id.in_(SETTLED))
    if campaign:
        query = query.where(letters.c.campaign_id == campaign)
    conn.execute(query.values(status="skipped", last_error=MOOT))


def _hand_over(store: Store, letter_id: int) -> bool:
    """Mark a claimed letter as being sent, just before the channel gets it; False if it is
    no longer ours (an operator's resend, another sender after a long stall), or moot: its
    obligation was met or withdrawn since it was claimed (a stale claim taken over may be
    hours old), and then it is recorded as skipped. An earlier attempt's error is cleared:
    a 'sending' letter with an error is one whose outcome is unknown."""
    settled = exists().where(obligations.c.id == letters.c.obligation_id,  # by primary key
                             obligations.c.status.in_(("fulfilled", "withdrawn")))
    live = or_(letters.c.obligation_id.is_(None), ~settled)
    with store.engine.begin() as conn:
        mine = and_(letters.c.id == letter_id, letters.c.status == "claimed")
        if conn.execute(update(letters).where(mine, live).values(
                status="sending", attempts=letters.c.attempts + 1,
                last_error=None)).rowcount == 1:
            return True
        conn.execute(update(letters).where(mine).values(status="skipped", last_error=MOOT))
        return False


def _release(store: Store, ids: list[int]) -> None:
    """Give back claimed letters never handed over: nothing of them left this process."""
    if ids:
        with store.engine.begin() as conn:
            conn.execute(update(letters).where(
                letters.c.id.in_(ids), letters.c.status == "claimed").values(
                status="planned", claimed_at=None))


def _settle(store: Store, letter_id: int, values: dict[str, object]) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(letters).where(letters.c.id == letter_id,
                                           letters.c.status == "sending").values(**values))


def deliver(store: Store, channel: Channel, *, now: datetime | None = None,
            campaign: str | None = None, ids: list[int] | None = None, max_attempts: int = 3,
            retry_after: timedelta = timedelta(minutes=30),
            progress: Callable[[int], None] | None = None) -> Delivered:
    """Send every letter that is ready (or just ``ids``), in claimed batches."""
    now = now or datetime.now(UTC)
    result = Delivered()
    while batch := _claim(store, channel, now, campaign, ids):
        try:
            for letter in batch:
                if _hand_over(store, letter.id):
                    _send_one(store, channel, letter, now, max_attempts, retry_after, result)
                if progress:
                    progress(result.sent + result.failed + result.retrying)
        finally:  # interrupted: what was never handed over goes back in line at once
            _release(store, [letter.id for letter in batch])
    result.uncertain = uncertain(store, now)
    return result


def _send_one(store: Store, channel: Channel, letter: Outgoing, now: datetime,
              max_attempts: int, retry_after: timedelta, result: Delivered) -> None:
    """Hand one letter to the channel and record what became of it."""
    try:
        where = channel.send(letter)
    except DeliveryError as exc:
        if exc.unknown:  # stays sending, with why: reported, never resent unasked
            _settle(store, letter.id, {"last_error": str(exc)})
            result.errors.append(f"{letter.recipient_name}：{exc}")
            return
        attempts = _attempts(store, letter.id)
        again = exc.retry and attempts < max_attempts
        _settle(store, letter.id, {
            "status": "planned" if again else "failed", "last_error": str(exc),
            "next_attempt_at": now + retry_after if again else None})
        result.retrying += again
        result.failed += not again
        result.errors.append(f"{letter.recipient_name}：{exc}")
    else:
        sent = {"status": "sent", "sent_at": datetime.now(UTC), "last_error": None}
        sent["outbox_path" if channel.records_path else "message_id"] = where
        _settle(store, letter.id, sent)
        result.sent += 1


def _attempts(store: Store, letter_id: int) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(letters.c.attempts).where(letters.c.id == letter_id)) or 0)


def uncertain(store: Store, now: datetime) -> int:
    """Letters a sender claimed and never settled: were they sent? Someone must look."""
    with store.engine.connect() as conn:
        return len(conn.execute(select(letters.c.id).where(
            letters.c.status == "sending", or_(letters.c.claimed_at < now - STALE_CLAIM,
                                                letters.c.last_error.is_not(None)))).all())


def resend(store: Store, letter_id: int, *, actor: str, reason: str | None = None) -> bool:
    """Put a failed or uncertain letter back in line: the operator's call, after checking
    with the recipient, so it is recorded in the audit trail with who made it."""
    if not actor.strip():
        raise ValueError("every state change records an actor")
    with store.engine.begin() as conn:
        row = conn.execute(select(letters.c.status, letters.c.campaign_id).where(
            letters.c.id == letter_id)).first()
        if row is None or row.status not in ("failed", "sending"):
            return False
        conn.execute(update(letters).where(letters.c.id == letter_id).values(
            status="planned", next_attempt_at=None, claimed_at=None, last_error=None))
        conn.execute(insert(events).values(
            occurred_at=datetime.now(UTC), campaign_id=row.campaign_id, record_kind="letter",
            record_id=letter_id, trigger="resend", from_state=row.status, to_state="planned",
            actor=actor, reason=reason))
    return True


__all__ = ["Delivered", "deliver", "resend", "uncertain"]
