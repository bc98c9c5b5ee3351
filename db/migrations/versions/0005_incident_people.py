"""Who holds an incident: the commander, and who last acknowledged and resolved it, kept on
the incident instead of being read back from the whole timeline on every card update.

Existing incidents are filled in from their timelines (the newest ``commander.assigned``,
``incident.acknowledged`` and, for resolved incidents, ``incident.resolved`` entries), so an
open incident's card keeps its commander after the upgrade.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = ("commander", "acknowledged_by", "resolved_by")

_incidents = sa.table(
    "incidents",
    sa.column("id", sa.Integer()),
    sa.column("status", sa.String()),
    *(sa.column(name, sa.Text()) for name in COLUMNS),
)
_timeline = sa.table(
    "timeline",
    sa.column("incident_id", sa.Integer()),
    sa.column("seq", sa.Integer()),
    sa.column("actor", sa.Text()),
    sa.column("kind", sa.Text()),
    sa.column("body", sa.JSON()),
)


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("incidents", sa.Column(name, sa.Text(), nullable=True))
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_timeline.c.incident_id, _timeline.c.actor, _timeline.c.kind, _timeline.c.body)
        .where(
            _timeline.c.kind.in_(
                ["commander.assigned", "incident.acknowledged", "incident.resolved"]
            )
        )
        .order_by(_timeline.c.incident_id, _timeline.c.seq)
    )
    found: dict[int, dict[str, str | None]] = {}
    for incident_id, actor, kind, body in rows:
        people = found.setdefault(incident_id, {})
        if kind == "commander.assigned":
            people["commander"] = str((body or {}).get("user") or "") or None
        elif kind == "incident.acknowledged":
            people["acknowledged_by"] = actor
        else:
            people["resolved_by"] = actor
    for incident_id, people in found.items():
        update = sa.update(_incidents).where(_incidents.c.id == incident_id)
        if "resolved_by" in people:
            # Only a resolved incident has a resolver; a reopened one does not.
            resolver = people.pop("resolved_by")
            bind.execute(
                update.where(_incidents.c.status == "resolved").values(resolved_by=resolver)
            )
        if people:
            bind.execute(update.values(**people))


def downgrade() -> None:
    # SQLite (3.35+) and PostgreSQL both drop a plain column in place; a batch rebuild of
    # incidents would trip the foreign keys that point at it.
    for name in reversed(COLUMNS):
        op.execute(f"ALTER TABLE incidents DROP COLUMN {name}")
