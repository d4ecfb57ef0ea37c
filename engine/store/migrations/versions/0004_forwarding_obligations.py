"""obligations get an origin (definition or forwarding), the body owed and the record: the
feedback a body owes on a lead forwarded to it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:03:16.126676
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("obligations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=20),
                                      server_default="definition", nullable=False))
        batch_op.add_column(sa.Column("recipient_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("record_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("record_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("obligations", schema=None) as batch_op:
        batch_op.drop_column("record_id")
        batch_op.drop_column("record_kind")
        batch_op.drop_column("recipient_id")
        batch_op.drop_column("origin")

