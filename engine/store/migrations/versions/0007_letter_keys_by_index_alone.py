"""letter keys by index alone: every day the tick asks which letters of its live obligations,
and which phase notices, are already written (their idempotency keys); with the key in an
index beside the obligation, or beside the campaign, the answer comes from the index without
reading a table row per letter. Both indexes are partial, holding only the letters they are
for, so the supervision letters that make up most of a tick cost them nothing to insert.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OBLIGATION_LETTER = "obligation_id IS NOT NULL"
PHASE_NOTICE = "kind = 'phase_start'"


def upgrade() -> None:
    op.create_index("ix_letters_obligation_key", "letters", ["obligation_id", "idempotency_key"],
                    unique=False, sqlite_where=sa.text(OBLIGATION_LETTER),
                    postgresql_where=sa.text(OBLIGATION_LETTER))
    op.create_index("ix_letters_phase_notice_key", "letters",
                    ["campaign_id", "kind", "idempotency_key"], unique=False,
                    sqlite_where=sa.text(PHASE_NOTICE), postgresql_where=sa.text(PHASE_NOTICE))
    op.drop_index("ix_letters_obligation", table_name="letters")
    op.drop_index("ix_letters_campaign_kind", table_name="letters")


def downgrade() -> None:
    op.create_index("ix_letters_obligation", "letters", ["obligation_id"], unique=False)
    op.create_index("ix_letters_campaign_kind", "letters", ["campaign_id", "kind"], unique=False)
    op.drop_index("ix_letters_phase_notice_key", table_name="letters")
    op.drop_index("ix_letters_obligation_key", table_name="letters")
