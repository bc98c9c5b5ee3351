"""Alert storms (issue 17): the Alertmanager group each alert episode arrived in, the
incident another was merged into, and the key that marks a storm incident.

``alert_episodes.group_key`` is set on every episode stored from now on; older episodes keep
NULL (their incident's group key says it). ``incidents.storm_key`` (e.g.
``service=lnn-service``) marks the one incident a storm's groups collect in, and
``incidents.merged_into`` points a closed incident at the one its alerts moved to.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("alert_episodes", sa.Column("group_key", sa.Text(), nullable=True))
    op.create_index("ix_alert_episodes_group_key", "alert_episodes", ["group_key"])
    op.add_column("incidents", sa.Column("storm_key", sa.Text(), nullable=True))
    # Whether a storm forms is asked each time an incident would open: by creation time and
    # by storm key, not by a scan of every incident ever opened.
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])
    op.create_index("ix_incidents_storm_key", "incidents", ["storm_key"])
    # A storm keyed by service looks for that service's recent incidents: one range scan.
    op.create_index("ix_incidents_service_created_at", "incidents", ["service", "created_at"])
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column's foreign key only inline; a batch rebuild of incidents would
        # trip the foreign keys of every table that refers to it.
        op.execute("ALTER TABLE incidents ADD COLUMN merged_into INTEGER REFERENCES incidents (id)")
    else:
        op.add_column("incidents", sa.Column("merged_into", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_incidents_merged_into_incidents", "incidents", "incidents", ["merged_into"], ["id"]
        )


def downgrade() -> None:
    # As in 0005: plain columns drop in place; a batch rebuild would trip the foreign keys.
    op.drop_index("ix_alert_episodes_group_key", "alert_episodes")
    op.drop_index("ix_incidents_service_created_at", "incidents")
    op.drop_index("ix_incidents_storm_key", "incidents")
    op.drop_index("ix_incidents_created_at", "incidents")
    op.execute("ALTER TABLE alert_episodes DROP COLUMN group_key")
    op.execute("ALTER TABLE incidents DROP COLUMN storm_key")
    op.execute("ALTER TABLE incidents DROP COLUMN merged_into")
