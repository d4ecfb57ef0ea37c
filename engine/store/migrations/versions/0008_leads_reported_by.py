"""leads reported_by: a lead's quota credit stays with the body that reported it.

Forwarding a lead (reported up to the office, or down to the province that handles it)
changes the body holding it, and quotas counted leads by that holder: a province that did as
the plan asks and reported its five leads up lost them from its count and was chased for
them. ``reported_by`` keeps the reporter once the lead has moved on; it stays NULL while the
holder is the reporter, so imports write nothing more.

Leads forwarded before this revision are not rewritten: no column recorded who held them
first, and a guess would be worse than the old count.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

REPORTED_ON = "reported_by IS NOT NULL"  # partial: the leads an import writes add no entries


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch_op:
        batch_op.add_column(sa.Column("reported_by", sa.String(100), nullable=True))
    op.create_index("ix_leads_campaign_reported_by", "leads", ["campaign_id", "reported_by"],
                    unique=False, sqlite_where=sa.text(REPORTED_ON),
                    postgresql_where=sa.text(REPORTED_ON))


def downgrade() -> None:
    op.drop_index("ix_leads_campaign_reported_by", table_name="leads")
    with op.batch_alter_table("leads") as batch_op:
        batch_op.drop_column("reported_by")
