"""The Slack outbox and the chat refs its calls produce.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ordering_key", sa.Text(), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("binds", sa.JSON(), nullable=False),
        sa.Column("saves", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", utc(), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("sent_at", utc(), nullable=True),
        sa.Column("finished_at", utc(), nullable=True),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", utc(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_outbox_incident_id_incidents"
        ),
    )
    op.create_index("ix_outbox_ordering_key_id", "outbox", ["ordering_key", "id"])
    op.create_index("ix_outbox_status_id", "outbox", ["status", "id"])

    op.create_table(
        "chat_refs",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "name", name="pk_chat_refs"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_chat_refs_incident_id_incidents"
        ),
    )
    op.create_index("ix_chat_refs_name_value", "chat_refs", ["name", "value"])


def downgrade() -> None:
    op.drop_index("ix_chat_refs_name_value", table_name="chat_refs")
    op.drop_table("chat_refs")
    op.drop_index("ix_outbox_status_id", table_name="outbox")
    op.drop_index("ix_outbox_ordering_key_id", table_name="outbox")
    op.drop_table("outbox")
