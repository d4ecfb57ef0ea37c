"""letters of an obligation by index alone: the daily tick asks which letters of today's live
obligations are already written (their idempotency keys); with the key in the index beside
the obligation, the answer comes from the index without reading a table row per letter

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
    op.drop_index("ix_letters_obligation", table_name="letters")


def downgrade() -> None:
    op.create_index("ix_letters_obligation", "letters", ["obligation_id"], unique=False)
    op.drop_index("ix_letters_obligation_key", table_name="letters")
