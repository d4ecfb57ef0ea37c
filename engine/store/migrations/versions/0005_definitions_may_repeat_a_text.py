"""definitions may repeat a text: loading an older version"s text again (an amendment
reverted) makes it the current version, so (campaign, sha256) is indexed, not unique

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:10:08.379144
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_definitions_campaign_id_sha256"), type_="unique")
        batch_op.create_index("ix_definitions_campaign_sha256", ["campaign_id", "sha256"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.drop_index("ix_definitions_campaign_sha256")
        batch_op.create_unique_constraint(batch_op.f("uq_definitions_campaign_id_sha256"),
                                          ["campaign_id", "sha256"])

