"""Actions that scale through a HorizontalPodAutoscaler: the HPA the scale goes through (its
name, and its min and max replicas when requested, as JSON), its ``minReplicas`` just before
the apply (what resolving the incident offers to restore), and, on a restore, the action it
puts back. All nullable: older actions went to the deployment directly.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("actions", sa.Column("autoscaler", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("actions", sa.Column("previous_min_replicas", sa.Integer(), nullable=True))
    op.add_column("actions", sa.Column("restores", sa.Integer(), nullable=True))


def downgrade() -> None:
    # SQLite can drop a column only by rebuilding the table, which batch mode does.
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("restores")
        batch.drop_column("previous_min_replicas")
        batch.drop_column("autoscaler")
