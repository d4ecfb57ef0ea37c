"""letter keys by index alone: every day the tick asks which letters of its live obligations,
and which phase notices, are already written (their idempotency keys); with the key in the
index beside the obligation, or beside the campaign and kind, the answer comes from the index
without reading a table row per letter

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 06:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_letters_obligation_key", "letters", ["obligation_id", "idempotency_key"],
                    unique=False)
    op.create_index("ix_letters_campaign_kind_key", "letters",
                    ["campaign_id", "kind", "idempotency_key"], unique=False)
    op.drop_index("ix_letters_obligation", table_name="letters")
    op.drop_index("ix_letters_campaign_kind", table_name="letters")


def downgrade() -> None:
    op.create_index("ix_letters_obligation", "letters", ["obligation_id"], unique=False)
    op.create_index("ix_letters_campaign_kind", "letters", ["campaign_id", "kind"], unique=False)
    op.drop_index("ix_letters_campaign_kind_key", table_name="letters")
    op.drop_index("ix_letters_obligation_key", table_name="letters")
