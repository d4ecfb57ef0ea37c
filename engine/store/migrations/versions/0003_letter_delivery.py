"""letter delivery: channel, attempts and retry time, claim time, last error, where the file
went and the mail Message-ID

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:46:21.641400
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("outbox_path", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("message_id", sa.String(length=300), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_column("message_id")
        batch_op.drop_column("outbox_path")
        batch_op.drop_column("last_error")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("channel")

