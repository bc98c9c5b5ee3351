"""The Alertmanager inbox: deliveries are acknowledged once stored and processed afterwards.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

PENDING_WHERE = sa.text("outcome = 'pending'")


def upgrade() -> None:
    op.add_column(
        "deliveries", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("deliveries", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_deliveries_pending",
        "deliveries",
        ["source", "id"],
        sqlite_where=PENDING_WHERE,
        postgresql_where=PENDING_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_pending", table_name="deliveries")
    # SQLite can drop a column only by rebuilding the table, which batch mode does.
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("not_before")
        batch.drop_column("attempts")
