"""Repositories: the storage ports implemented with Core statements on one connection."""

from db.repositories.actions import SqlActionRepository
from db.repositories.alerts import SqlAlertRepository
from db.repositories.chat_refs import SqlChatRefRepository
from db.repositories.deliveries import SqlDeliveryRepository
from db.repositories.escalations import SqlEscalationRepository
from db.repositories.graphs import SqlGraphRepository
from db.repositories.health_gauges import SqlHealthRepository
from db.repositories.incidents import SqlIncidentRepository
from db.repositories.maintenance import SqlMaintenanceRepository
from db.repositories.outbox import SqlOutboxRepository
from db.repositories.pace import SqlPaceRepository
from db.repositories.timeline import SqlTimelineRepository

__all__ = [
    "SqlActionRepository",
    "SqlAlertRepository",
    "SqlChatRefRepository",
    "SqlDeliveryRepository",
    "SqlEscalationRepository",
    "SqlGraphRepository",
    "SqlHealthRepository",
    "SqlIncidentRepository",
    "SqlMaintenanceRepository",
    "SqlOutboxRepository",
    "SqlPaceRepository",
    "SqlTimelineRepository",
]
