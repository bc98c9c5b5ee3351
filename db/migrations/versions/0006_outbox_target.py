"""The outbox's target: each row names the sender that delivers it (Slack, later a pager and
mail). Rows written before it were all Slack calls.

Revision ID: 0006
Revises: 0004 (the merge re-chains it after 0005)
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column("target", sa.String(32), nullable=False, server_default="slack"),
    )


def downgrade() -> None:
    # SQLite can drop a column only by rebuilding the table, which batch mode does.
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("target")
