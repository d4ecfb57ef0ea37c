"""letters get a subject and an index by record (timer letters); campaign_phases holds where
each campaign stands in its phases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:26:38.135824
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("campaign_phases",
    sa.Column("campaign_id", sa.String(length=100), nullable=False),
    sa.Column("phase", sa.String(length=100), nullable=False),
    sa.Column("since", sa.Date(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_phases"))
    )
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=300), nullable=True))
        batch_op.create_index("ix_letters_record", ["record_kind", "record_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_index("ix_letters_record")
        batch_op.drop_column("subject")

    op.drop_table("campaign_phases")
