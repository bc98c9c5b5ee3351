"""Repositories: the storage ports implemented with Core statements on one connection."""

from db.repositories.actions import SqlActionRepository
from db.repositories.alerts import SqlAlertRepository
from db.repositories.deliveries import SqlDeliveryRepository
from db.repositories.incidents import SqlIncidentRepository
from db.repositories.outbox import SqlOutboxRepository
from db.repositories.timeline import SqlTimelineRepository

__all__ = [
    "SqlActionRepository",
    "SqlAlertRepository",
    "SqlDeliveryRepository",
    "SqlIncidentRepository",
    "SqlOutboxRepository",
    "SqlTimelineRepository",
]
