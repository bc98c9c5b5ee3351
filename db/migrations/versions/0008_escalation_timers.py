"""Escalation timers: one row per incident, path run and level (and the response target),
claimed by the escalation worker and fired once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "escalation_timers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("due_at", utc(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("fired_at", utc(), nullable=True),
        sa.Column("cancelled_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_escalation_timers"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_escalation_timers_incident_id_incidents"
        ),
        sa.UniqueConstraint(
            "incident_id",
            "run",
            "kind",
            "level",
            name="uq_escalation_timers_incident_id_run_kind_level",
        ),
    )
    op.create_index("ix_escalation_timers_status_due_at", "escalation_timers", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_escalation_timers_status_due_at", table_name="escalation_timers")
    op.drop_table("escalation_timers")
