"""Flapping: how often an incident's group fired again soon after it resolved, reopening it,
kept on the incident so its card shows it without reading the timeline back.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Existing incidents never flapped: the default fills them in.
    op.add_column(
        "incidents", sa.Column("flap_count", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    # As in 0005: a plain column drops in place; a batch rebuild would trip the foreign keys.
    op.execute("ALTER TABLE incidents DROP COLUMN flap_count")
