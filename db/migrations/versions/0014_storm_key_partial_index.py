"""Index only the incidents that are storms by their storm key.

The full index on ``incidents.storm_key`` also held every incident that is not a storm
(NULL), and SQLite used it for the storm-candidate query's ``storm_key IS NULL``: a walk of
every incident ever opened, per batch of deliveries, growing with the table. Indexed only
where ``storm_key IS NOT NULL``, it answers "which storms are open" from a handful of
entries and leaves the candidates to ``ix_incidents_service_created_at``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

_STORMS_ONLY = sa.text("storm_key IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_incidents_storm_key", "incidents")
    op.create_index(
        "ix_incidents_storm_key",
        "incidents",
        ["storm_key"],
        sqlite_where=_STORMS_ONLY,
        postgresql_where=_STORMS_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_storm_key", "incidents")
    op.create_index("ix_incidents_storm_key", "incidents", ["storm_key"])
