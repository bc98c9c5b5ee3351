"""Ad-hoc maintenance windows, and the incidents maintenance windows touched until their end
is recorded on each.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.Text(), nullable=True),
        sa.Column("starts_at", utc(), nullable=False),
        sa.Column("ends_at", utc(), nullable=False),
        sa.Column("opened_by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ended_at", utc(), nullable=True),
        sa.Column("ended_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_windows"),
    )
    op.create_index("ix_maintenance_windows_ends_at", "maintenance_windows", ["ends_at"])
    op.create_table(
        "maintenance_marks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("window_name", sa.Text(), nullable=False),
        sa.Column("ends_at", utc(), nullable=False),
        sa.Column("ad_hoc", sa.Integer(), nullable=True),
        sa.Column("classified", sa.String(8), nullable=True),
        sa.Column("severity", sa.String(8), nullable=True),
        sa.Column("released_at", utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_marks"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_maintenance_marks_incident_id_incidents"
        ),
        sa.ForeignKeyConstraint(
            ["ad_hoc"],
            ["maintenance_windows.id"],
            name="fk_maintenance_marks_ad_hoc_maintenance_windows",
        ),
        sa.UniqueConstraint(
            "incident_id",
            "window_name",
            "ends_at",
            name="uq_maintenance_marks_incident_id_window_name_ends_at",
        ),
    )
    op.create_index("ix_maintenance_marks_ad_hoc", "maintenance_marks", ["ad_hoc"])
    op.create_index(
        "ix_maintenance_marks_released_at_ends_at",
        "maintenance_marks",
        ["released_at", "ends_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_maintenance_marks_released_at_ends_at", table_name="maintenance_marks")
    op.drop_index("ix_maintenance_marks_ad_hoc", table_name="maintenance_marks")
    op.drop_table("maintenance_marks")
    op.drop_index("ix_maintenance_windows_ends_at", table_name="maintenance_windows")
    op.drop_table("maintenance_windows")
