"""One inbox for every source: PagerDuty deliveries are stored pending and processed after
their acknowledgement like Alertmanager's, so the processor takes the pending rows of every
source in arrival order, through a partial index on ``id``.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

PENDING_WHERE = sa.text("outcome = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_pending_arrival",
        "deliveries",
        ["id"],
        sqlite_where=PENDING_WHERE,
        postgresql_where=PENDING_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_pending_arrival", table_name="deliveries")
