"""Remediation actions: the approval state machine's rows.

Revision ID: 0003
Revises: 0001 (re-chained after the outbox's 0002 when the branches merge)
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

OPEN_ACTION_WHERE = sa.text("state IN ('requested', 'approved', 'running')")
RUNNING_ACTION_WHERE = sa.text("state = 'running'")


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("verb", sa.String(16), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("deployment", sa.String(253), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("requested_at", utc(), nullable=False),
        sa.Column("expires_at", utc(), nullable=False),
        sa.Column("updated_at", utc(), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("approvals", sa.JSON(), nullable=False),
        sa.Column("replicas", sa.Integer(), nullable=True),
        sa.Column("to_revision", sa.Integer(), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("restarted_at", sa.String(64), nullable=True),
        sa.Column("rollback_revision", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", utc(), nullable=True),
        sa.Column("apply_snapshot", sa.JSON(), nullable=True),
        sa.Column("started_at", utc(), nullable=True),
        sa.Column("finished_at", utc(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_actions_incident_id_incidents"
        ),
    )
    op.create_index("ix_actions_incident_id", "actions", ["incident_id"])
    op.create_index("ix_actions_state", "actions", ["state"])
    op.create_index(
        "uq_actions_open_target_verb",
        "actions",
        ["namespace", "deployment", "verb"],
        unique=True,
        sqlite_where=OPEN_ACTION_WHERE,
        postgresql_where=OPEN_ACTION_WHERE,
    )
    op.create_index(
        "uq_actions_running_target",
        "actions",
        ["namespace", "deployment"],
        unique=True,
        sqlite_where=RUNNING_ACTION_WHERE,
        postgresql_where=RUNNING_ACTION_WHERE,
    )


def downgrade() -> None:
    op.drop_index("uq_actions_running_target", table_name="actions")
    op.drop_index("uq_actions_open_target_verb", table_name="actions")
    op.drop_index("ix_actions_state", table_name="actions")
    op.drop_index("ix_actions_incident_id", table_name="actions")
    op.drop_table("actions")
