"""The outbox's pace slots: per key (a Slack method of the workspace, or one channel's
posts), the instant its next call may leave, shared by every replica.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_pace",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_outbox_pace"),
    )


def downgrade() -> None:
    op.drop_table("outbox_pace")
