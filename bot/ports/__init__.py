"""Ports: the Protocols the core needs from the outside world. Adapters in ``db/``,
``actions/`` and ``bot/integrations/`` implement them; ``tests/fakes`` holds in-memory versions.

One module per side of the core: storage of incidents and deliveries (``incidents``), outbound
effects (``outbox``), remediation (``remediation``), escalation timers and who is on call (``escalation``), Alertmanager's silences (``silences``), ad-hoc maintenance windows (``maintenance``), the timeline read by global id for the live feed (``live``), metric graphs (``graphs``), the transaction that binds the
repositories (``store``) and the metrics (``metrics``). Callers import from ``bot.ports``.
"""

from bot.ports.escalation import EscalationRepository, OnCallDirectory
from bot.ports.graphs import GraphRepository, MetricGraphs
from bot.ports.incidents import (
    AlertRepository,
    DeliveryRepository,
    HealthRepository,
    Inbox,
    InboxBacklog,
    IncidentRepository,
    TimelineRepository,
)
from bot.ports.live import FeedEntry, FeedIds, FeedRead, Horizon, TimelineFeed
from bot.ports.maintenance import MaintenanceRepository
from bot.ports.metrics import Metrics
from bot.ports.outbox import (
    ChatRefRepository,
    Lease,
    OutboxObserver,
    OutboxRepository,
    PacedSender,
    PaceRepository,
    Sender,
    Settled,
)
from bot.ports.remediation import ActionRepository, Cluster, Directory
from bot.ports.silences import Silences
from bot.ports.store import Publisher, Store, UnitOfWork

__all__ = [
    "ActionRepository",
    "AlertRepository",
    "ChatRefRepository",
    "Cluster",
    "DeliveryRepository",
    "Directory",
    "EscalationRepository",
    "FeedEntry",
    "FeedIds",
    "FeedRead",
    "GraphRepository",
    "HealthRepository",
    "Horizon",
    "Inbox",
    "InboxBacklog",
    "IncidentRepository",
    "Lease",
    "MaintenanceRepository",
    "MetricGraphs",
    "Metrics",
    "OnCallDirectory",
    "OutboxObserver",
    "OutboxRepository",
    "PaceRepository",
    "PacedSender",
    "Publisher",
    "Sender",
    "Settled",
    "Silences",
    "Store",
    "TimelineFeed",
    "TimelineRepository",
    "UnitOfWork",
]
