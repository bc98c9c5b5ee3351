"""The graph of an incident's firing alert: one row per incident that wants it posted,
claimed by the graph worker and finished once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incident_graphs",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("wanted_at", utc(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", utc(), nullable=True),
        sa.Column("finished_at", utc(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("incident_id", name="pk_incident_graphs"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_graphs_incident_id_incidents"
        ),
    )
    op.create_index(
        "ix_incident_graphs_status_wanted_at", "incident_graphs", ["status", "wanted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_incident_graphs_status_wanted_at", table_name="incident_graphs")
    op.drop_table("incident_graphs")
