"""The schema as SQLAlchemy Core tables. ``migrations/versions`` must produce exactly this."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    literal_column,
)

from db.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

RESOLVED = "resolved"

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("severity", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("service", Text, nullable=False),
    Column("scenario", Text, nullable=False),
    Column("response_minutes", Integer, nullable=False),
    Column("group_key", Text, nullable=True),
    Column("pagerduty_id", String(64), nullable=True, unique=True),
    Column("labels", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("status_changed_at", UTCDateTime, nullable=True),
    # Who holds the incident (migration 0005).
    Column("commander", Text, nullable=True),
    Column("acknowledged_by", Text, nullable=True),
    Column("resolved_by", Text, nullable=True),
    # How often the group reopened it by firing again soon after it resolved (migration 0009).
    Column("flap_count", Integer, nullable=False, server_default="0"),
    # When the incident's Alertmanager silence ends (migration 0010).
    Column("silenced_until", UTCDateTime, nullable=True),
    # Storms (migration 0012): the incident this one was merged into, and the key (e.g.
    # ``service=lnn-service``) that marks a storm incident.
    Column("merged_into", Integer, ForeignKey("incidents.id"), nullable=True),
    Column("storm_key", Text, nullable=True),
)

# Rows an open incident must be unique among; also the ON CONFLICT target's predicate.
# The status is inlined as a literal, not a bound parameter: asyncpg prepares statements, and
# after five executions PostgreSQL switches to a generic plan that no longer proves the
# ON CONFLICT predicate implies the partial index's, failing every later insert.
OPEN_GROUP_WHERE = and_(
    incidents.c.status != literal_column(f"'{RESOLVED}'"), incidents.c.group_key.is_not(None)
)

Index(
    "uq_incidents_open_group_key",
    incidents.c.group_key,
    unique=True,
    sqlite_where=OPEN_GROUP_WHERE,
    postgresql_where=OPEN_GROUP_WHERE,
)
Index("ix_incidents_group_key", incidents.c.group_key)
# Storms (migration 0012): the recent incidents a storm may form from, and the open storm.
Index("ix_incidents_created_at", incidents.c.created_at)
# Only storms (migration 0014): a full index also held every NULL, and SQLite walked it for
# the candidates' ``storm_key IS NULL`` instead of using the service index below.
STORMS_ONLY = incidents.c.storm_key.is_not(None)
Index(
    "ix_incidents_storm_key",
    incidents.c.storm_key,
    sqlite_where=STORMS_ONLY,
    postgresql_where=STORMS_ONLY,
)
Index("ix_incidents_service_created_at", incidents.c.service, incidents.c.created_at)

alert_episodes = Table(
    "alert_episodes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("fingerprint", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("generator_url", Text, nullable=False),
    UniqueConstraint("fingerprint", "starts_at"),
    # The Alertmanager group the episode arrived in (migration 0012; NULL before it).
    Column("group_key", Text, nullable=True, index=True),
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("body", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("incident_id", "seq"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("key", Text, nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("detail", Text, nullable=False),
    # Inbox processing (migration 0004): failed attempts, and when the next one is due.
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("not_before", UTCDateTime, nullable=True),
    UniqueConstraint("source", "key"),
)

# The inbox processor's scan: pending rows only, in arrival order (per source; taking every
# source merges the per-source scans). A literal predicate, for the same asyncpg generic-plan
# reason as OPEN_GROUP_WHERE.
PENDING_DELIVERY_WHERE = deliveries.c.outcome == literal_column("'pending'")
Index(
    "ix_deliveries_pending",
    deliveries.c.source,
    deliveries.c.id,
    sqlite_where=PENDING_DELIVERY_WHERE,
    postgresql_where=PENDING_DELIVERY_WHERE,
)

# Calls waiting to be sent by the sender of their target (bot.domain.outbox). The claim query looks for the oldest pending row
# of each ordering key, hence the (ordering_key, id) and (status, id) indexes.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ordering_key", Text, nullable=False),
    Column("method", String(64), nullable=False),
    Column("args", JSON, nullable=False),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=True),
    Column("binds", JSON, nullable=False),
    Column("saves", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("not_before", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=False),
    Column("result", JSON, nullable=True),
    Column("target", String(32), nullable=False, server_default="slack"),
)
Index("ix_outbox_ordering_key_id", outbox.c.ordering_key, outbox.c.id)
Index("ix_outbox_status_id", outbox.c.status, outbox.c.id)

# The outbox's pace slots (bot.domain.outbox.Pace): per key, when its next call may leave.
# One row per key, taken with a conditional upsert in the claim's transaction, so every
# replica keeps the same pace.
outbox_pace = Table(
    "outbox_pace",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("next_at", UTCDateTime, nullable=False),
)

# Per incident, what Slack created for it: its channel id, the card's channel and ts.
chat_refs = Table(
    "chat_refs",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id"), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)
Index("ix_chat_refs_name_value", chat_refs.c.name, chat_refs.c.value)
# Remediation actions (issue 4). Every change is a compare-and-set on (state, version).
actions = Table(
    "actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("verb", String(16), nullable=False),
    Column("namespace", String(63), nullable=False),
    Column("deployment", String(253), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("approvals_required", Integer, nullable=False),
    Column("approvals", JSON, nullable=False),
    Column("replicas", Integer, nullable=True),
    Column("to_revision", Integer, nullable=True),
    Column("snapshot", JSON(none_as_null=True), nullable=True),
    Column("restarted_at", String(64), nullable=True),
    Column("rollback_revision", Integer, nullable=True),
    Column("owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("apply_snapshot", JSON(none_as_null=True), nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("detail", Text, nullable=False),
    # Migration 0007: a scale through the deployment's HPA (its name, min and max when
    # requested), the HPA's floor before the apply, and the action a restore puts back.
    Column("autoscaler", JSON(none_as_null=True), nullable=True),
    Column("previous_min_replicas", Integer, nullable=True),
    Column("restores", Integer, nullable=True),
)

# Literal predicates, for the same asyncpg generic-plan reason as OPEN_GROUP_WHERE.
OPEN_ACTION_WHERE = actions.c.state.in_(
    [literal_column("'requested'"), literal_column("'approved'"), literal_column("'running'")]
)
RUNNING_ACTION_WHERE = actions.c.state == literal_column("'running'")

# A storm of incidents suggesting the same action makes one open request per verb and target.
Index(
    "uq_actions_open_target_verb",
    actions.c.namespace,
    actions.c.deployment,
    actions.c.verb,
    unique=True,
    sqlite_where=OPEN_ACTION_WHERE,
    postgresql_where=OPEN_ACTION_WHERE,
)
# At most one action runs on a deployment at a time, whatever its verb.
Index(
    "uq_actions_running_target",
    actions.c.namespace,
    actions.c.deployment,
    unique=True,
    sqlite_where=RUNNING_ACTION_WHERE,
    postgresql_where=RUNNING_ACTION_WHERE,
)


# Escalation timers (migration 0008): one row per incident, path run and level of the
# severity's escalation path, plus one (level -1, kind 'target') for the response target.
# Fired in the transaction that records the level, so each fires once (bot.domain.escalation).
escalation_timers = Table(
    "escalation_timers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("run", Integer, nullable=False),
    Column("severity", String(8), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("level", Integer, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("fired_at", UTCDateTime, nullable=True),
    Column("cancelled_reason", Text, nullable=False),
    UniqueConstraint("incident_id", "run", "kind", "level"),
)
# The worker's claim: pending timers by due time.
Index("ix_escalation_timers_status_due_at", escalation_timers.c.status, escalation_timers.c.due_at)


# Ad-hoc maintenance windows (migration 0013): opened and ended from Slack; ``service`` NULL
# covers every service. A window ended early has ``ended_at``; one that ran its course not.
maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", Text, nullable=True),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("opened_by", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("ended_by", Text, nullable=True),
)
# Intake's one read per transaction: the windows not over yet.
Index("ix_maintenance_windows_ends_at", maintenance_windows.c.ends_at)

# The incidents a window (recurring or ad hoc) touched (migration 0013), until its end is
# recorded on each (``released_at``). ``classified`` NULL: open when the window started, not
# held by it.
maintenance_marks = Table(
    "maintenance_marks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("window_name", Text, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("ad_hoc", Integer, ForeignKey("maintenance_windows.id"), nullable=True, index=True),
    Column("classified", String(8), nullable=True),
    Column("severity", String(8), nullable=True),
    Column("released_at", UTCDateTime, nullable=True),
    UniqueConstraint("incident_id", "window_name", "ends_at"),
)
# The periodic check: unreleased marks by their window's end.
Index(
    "ix_maintenance_marks_released_at_ends_at",
    maintenance_marks.c.released_at,
    maintenance_marks.c.ends_at,
)

# The graph of an incident's firing alert (migration 0015): wanted when a P0/P1 incident
# opens, claimed with a lease by the graph worker, finished once with the PNG or the reason
# there is none (``bot.domain.graphs``).
incident_graphs = Table(
    "incident_graphs",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id"), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("wanted_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=False),
    Column("png", LargeBinary, nullable=True),
)
# The worker's claim: pending requests, oldest first.
Index("ix_incident_graphs_status_wanted_at", incident_graphs.c.status, incident_graphs.c.wanted_at)
