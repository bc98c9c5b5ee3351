"""Notifications: the pages, emails and Slack mentions escalation facts ask for, queued as
outbox rows by ``NotificationPublisher`` (``bot.integrations.notify.publisher``)."""
