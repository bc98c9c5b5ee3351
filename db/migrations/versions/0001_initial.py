"""Initial schema: incidents, alert episodes, the append-only timeline, deliveries.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

OPEN_GROUP_WHERE = sa.text("status != 'resolved' AND group_key IS NOT NULL")

SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER timeline_no_update BEFORE UPDATE ON timeline
    BEGIN SELECT RAISE(ABORT, 'timeline is append-only'); END""",
    """CREATE TRIGGER timeline_no_delete BEFORE DELETE ON timeline
    BEGIN SELECT RAISE(ABORT, 'timeline is append-only'); END""",
]

POSTGRES_APPEND_ONLY = [
    """CREATE FUNCTION timeline_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'timeline is append-only' USING ERRCODE = 'integrity_constraint_violation';
    END
    $$""",
    """CREATE TRIGGER timeline_no_update_or_delete BEFORE UPDATE OR DELETE ON timeline
    FOR EACH ROW EXECUTE FUNCTION timeline_append_only()""",
    """CREATE TRIGGER timeline_no_truncate BEFORE TRUNCATE ON timeline
    FOR EACH STATEMENT EXECUTE FUNCTION timeline_append_only()""",
]


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("scenario", sa.Text(), nullable=False),
        sa.Column("response_minutes", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=True),
        sa.Column("pagerduty_id", sa.String(64), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("updated_at", utc(), nullable=False),
        sa.Column("acknowledged_at", utc(), nullable=True),
        sa.Column("resolved_at", utc(), nullable=True),
        sa.Column("status_changed_at", utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("pagerduty_id", name="uq_incidents_pagerduty_id"),
    )
    op.create_index(
        "uq_incidents_open_group_key",
        "incidents",
        ["group_key"],
        unique=True,
        sqlite_where=OPEN_GROUP_WHERE,
        postgresql_where=OPEN_GROUP_WHERE,
    )
    op.create_index("ix_incidents_group_key", "incidents", ["group_key"])

    op.create_table(
        "alert_episodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("starts_at", utc(), nullable=False),
        sa.Column("ends_at", utc(), nullable=True),
        sa.Column("generator_url", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_episodes"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_alert_episodes_incident_id_incidents"
        ),
        sa.UniqueConstraint(
            "fingerprint", "starts_at", name="uq_alert_episodes_fingerprint_starts_at"
        ),
    )
    op.create_index("ix_alert_episodes_incident_id", "alert_episodes", ["incident_id"])

    op.create_table(
        "timeline",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", utc(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_timeline"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_timeline_incident_id_incidents"
        ),
        sa.UniqueConstraint("incident_id", "seq", name="uq_timeline_incident_id_seq"),
    )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("received_at", utc(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("source", "key", name="uq_deliveries_source_key"),
    )

    postgres = op.get_context().dialect.name == "postgresql"
    for statement in POSTGRES_APPEND_ONLY if postgres else SQLITE_APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER timeline_no_truncate ON timeline")
        op.execute("DROP TRIGGER timeline_no_update_or_delete ON timeline")
        op.execute("DROP FUNCTION timeline_append_only()")
    else:
        op.execute("DROP TRIGGER timeline_no_delete")
        op.execute("DROP TRIGGER timeline_no_update")
    op.drop_table("deliveries")
    op.drop_table("timeline")
    op.drop_index("ix_alert_episodes_incident_id", table_name="alert_episodes")
    op.drop_table("alert_episodes")
    op.drop_index("ix_incidents_group_key", table_name="incidents")
    op.drop_index("uq_incidents_open_group_key", table_name="incidents")
    op.drop_table("incidents")
