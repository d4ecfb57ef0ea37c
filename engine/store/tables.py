"""The database schema, as SQLAlchemy Core tables (the same for SQLite and PostgreSQL).

Rows are storage, not domain objects: the repositories convert them to plain values. Built-in
lead and case fields get typed columns (so statistics returns and filters are plain SQL over
indexes); fields a campaign adds live in the ``extra`` JSON column. The schema is versioned by
Alembic (``engine/store/migrations``); a test checks the migrations build exactly this.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from engine.spec.fields import CASE_FIELDS, LEAD_FIELDS, RecordField

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})



class Instant(TypeDecorator[datetime]):
    """A moment, stored as UTC.

    SQLite keeps a datetime's wall-clock digits and drops its zone, and every reader here takes
    what it hands back as UTC; so a Beijing-time value written as-is came back eight hours
    late, and an evening submission landed on the next day. Aware values are converted to UTC
    on the way in (PostgreSQL would do the same itself); naive values are already UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None or value.tzinfo is UTC \
                or dialect.name != "sqlite":
            return value  # SQLite keeps the digits, already UTC; PostgreSQL converts itself
        return value.astimezone(UTC).replace(tzinfo=None)


TS = Instant()

definitions = Table(
    "definitions", metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source_path", String(500), nullable=False),
    Column("text", Text, nullable=False),
    Column("loaded_at", TS, nullable=False),
    Column("loaded_by", String(200), nullable=False),
    UniqueConstraint("campaign_id", "version"),
    # the same text may come back as a later version (an amendment reverted), so the text's
    # hash is indexed, not unique
    Index("ix_definitions_campaign_sha256", "campaign_id", "sha256"),
)

bodies = Table(
    "bodies", metadata,
    Column("id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("level", String(20), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("parent_id", String(100)),
    Column("division", String(6), index=True),
    Column("registry", String(100), nullable=False),
)


def _column(fl: RecordField) -> Column:
    kinds: dict[str, TypeEngine] = {
        "string": String(500), "text": Text(), "integer": Integer(), "decimal": Numeric(18, 4),
        "boolean": Boolean(), "date": Date(), "division": String(6), "enum": String(40),
    }
    return Column(fl.name, kinds[fl.type])


def _record_table(name: str, fields: dict[str, RecordField] | object) -> Table:
    own = [_column(fl) for fl in fields.values()  # type: ignore[attr-defined]
           if fl.name not in ("summary",)]
    return Table(
        name, metadata,
        Column("id", Integer, primary_key=True),
        Column("campaign_id", String(100), nullable=False),
        Column("definition_id", ForeignKey("definitions.id"), nullable=False),
        Column("natural_key", String(200), nullable=False),
        Column("external_id", String(100)),
        Column("state", String(60), nullable=False),
        Column("body_id", String(100)),
        *own,
        Column("summary", Text),
        Column("extra", JSON, nullable=False, default=dict),
        Column("state_since", TS, nullable=False),
        Column("created_at", TS, nullable=False),
        Column("updated_at", TS, nullable=False),
        Column("row_version", Integer, nullable=False, default=1),
        UniqueConstraint("campaign_id", "natural_key"),
        Index(f"ix_{name}_campaign_state", "campaign_id", "state", "state_since"),
        Index(f"ix_{name}_campaign_body", "campaign_id", "body_id"),
    )


leads = _record_table("leads", LEAD_FIELDS)
cases = _record_table("cases", CASE_FIELDS)
cases.append_column(Column("source_lead", ForeignKey("leads.id")))
# the body that reported a lead, once it has moved on (forwarded up or down); NULL while the
# body holding it is the one that reported it, so an import writes nothing more. A quota of
# leads counts what a body reported, not what it happens to hold today.
leads.append_column(Column("reported_by", String(100)))
REPORTED_ON = "reported_by IS NOT NULL"  # partial: an import's rows add no index entries
Index("ix_leads_campaign_reported_by", leads.c.campaign_id, leads.c.reported_by,
      sqlite_where=text(REPORTED_ON), postgresql_where=text(REPORTED_ON))

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True),
    Column("occurred_at", TS, nullable=False),
    Column("campaign_id", String(100), nullable=False),
    Column("record_kind", String(20), nullable=False),
    Column("record_id", Integer, nullable=False),
    Column("trigger", String(60), nullable=False),
    Column("from_state", String(60)),
    Column("to_state", String(60)),
    Column("actor", String(200), nullable=False),
    Column("reason", Text),
    Column("definition_id", ForeignKey("definitions.id")),
    Column("data", JSON),
    CheckConstraint("length(actor) > 0", name="actor_named"),
    Index("ix_events_record", "record_kind", "record_id", "id"),
)

obligations = Table(
    "obligations", metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", String(100), nullable=False),
    Column("definition_id", ForeignKey("definitions.id"), nullable=False),
    Column("report_id", String(100), nullable=False),
    Column("body_id", String(100), nullable=False),
    Column("period", String(20), nullable=False, default=""),
    Column("due_on", Date, nullable=False),
    Column("quota", Integer),
    Column("status", String(20), nullable=False, default="open"),
    Column("fulfilled_at", TS),
    # "definition": materialised from a report (kept in step with each version);
    # "forwarding": feedback a body owes on a lead forwarded to it (issue 6), which no
    # definition version adds or withdraws
    Column("origin", String(20), nullable=False, server_default="definition"),
    Column("recipient_id", String(100)),
    Column("record_kind", String(20)),
    Column("record_id", Integer),
    UniqueConstraint("campaign_id", "report_id", "body_id", "period"),
    Index("ix_obligations_status_due", "status", "due_on"),
)

submissions = Table(
    "submissions", metadata,
    Column("id", Integer, primary_key=True),
    Column("obligation_id", ForeignKey("obligations.id"), nullable=False, index=True),
    Column("submitted_at", TS, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("file_name", String(500)),
    Column("file_sha256", String(64)),
    Column("item_count", Integer),
    Column("note", Text),
)

OBLIGATION_LETTER = "obligation_id IS NOT NULL"
PHASE_NOTICE = "kind = 'phase_start'"
"""The letters each partial index below holds (a query must imply it to use the index)."""

letters = Table(
    "letters", metadata,
    Column("id", Integer, primary_key=True),
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("campaign_id", String(100), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("recipient_id", String(100), nullable=False),
    Column("obligation_id", ForeignKey("obligations.id")),
    Column("record_kind", String(20)),
    Column("record_id", Integer),
    Column("step", Integer, nullable=False, default=0),
    Column("planned_for", Date, nullable=False),
    Column("status", String(20), nullable=False, default="planned"),
    Column("subject", String(300)),
    Column("body", Text),
    Column("created_at", TS, nullable=False),
    Column("sent_at", TS),
    # delivery: planned -> claimed -> sending -> sent | failed; a crash while sending leaves
    # "sending", which is reported as uncertain and never resent on its own
    Column("channel", String(20)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TS),
    Column("claimed_at", TS),
    Column("last_error", Text),
    Column("outbox_path", String(500)),
    Column("message_id", String(300)),
    Index("ix_letters_status_planned", "status", "planned_for"),
    Index("ix_letters_record", "record_kind", "record_id"),
    # The tick reads the keys of today's live obligations' letters, and of phase notices,
    # from these indexes alone. They are partial: a letter of a kind they do not hold (most
    # of a tick's are supervision letters about records) costs its insert nothing there,
    # where it would cost a page at a random place in each.
    Index("ix_letters_obligation_key", "obligation_id", "idempotency_key",
          sqlite_where=text(OBLIGATION_LETTER), postgresql_where=text(OBLIGATION_LETTER)),
    Index("ix_letters_phase_notice_key", "campaign_id", "kind", "idempotency_key",
          sqlite_where=text(PHASE_NOTICE), postgresql_where=text(PHASE_NOTICE)),
)

campaign_phases = Table(
    # Where each campaign stands in its phases (the campaign-level state machine's state);
    # every change is also an event (record_kind "campaign") in the audit trail.
    "campaign_phases", metadata,
    Column("campaign_id", String(100), primary_key=True),
    Column("phase", String(100), nullable=False),
    Column("since", Date, nullable=False),
    Column("updated_at", TS, nullable=False),
)

obligation_syncs = Table(
    # Which definition version (and which subset of its obligations: a plan whose parent is
    # loaded leaves the parent's to it) the obligations table was last brought in step with.
    # A tick finding its own version here skips reading tens of thousands of rows.
    "obligation_syncs", metadata,
    Column("campaign_id", String(100), primary_key=True),
    Column("definition_id", Integer, ForeignKey("definitions.id"), nullable=False),
    Column("scope", String(200), nullable=False),
    Column("synced_at", TS, nullable=False),
)

RECORD_TABLES = {"lead": leads, "case": cases}
