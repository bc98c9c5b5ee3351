"""When the incident's Alertmanager silence ends (``/incident silence``, issue 17), kept on
the incident so the card shows it without reading the timeline on every update. No
backfill: no silence entries exist before this revision.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "incidents", sa.Column("silenced_until", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    # As 0005: a plain column drops in place on SQLite 3.35+ and PostgreSQL.
    op.execute("ALTER TABLE incidents DROP COLUMN silenced_until")
