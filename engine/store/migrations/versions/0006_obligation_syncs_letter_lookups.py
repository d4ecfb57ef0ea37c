"""obligation syncs and letter lookups: the definition version each campaign's obligations
were last brought in step with, and indexes to find the letters of one obligation and a
campaign's letters of one kind, so a daily tick reads neither every obligation nor every
letter

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 14:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "obligation_syncs",
        sa.Column("campaign_id", sa.String(length=100), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["definition_id"], ["definitions.id"],
                                name=op.f("fk_obligation_syncs_definition_id_definitions")),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_obligation_syncs")),
    )
    op.create_index("ix_letters_obligation", "letters", ["obligation_id"], unique=False)
    op.create_index("ix_letters_campaign_kind", "letters", ["campaign_id", "kind"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_letters_campaign_kind", table_name="letters")
    op.drop_index("ix_letters_obligation", table_name="letters")
    op.drop_table("obligation_syncs")
