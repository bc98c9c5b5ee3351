"""Which concrete adapter each setting selects: the outbox's senders, the ways of telling
people that are configured, the cluster; and the warnings for what stays closed. The
composition root (``bot.app``) calls these; nothing else chooses an adapter."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from actions.cluster import KubeCluster
from actions.unconfigured import UnconfiguredCluster
from bot.clock import Clock
from bot.config import Settings
from bot.domain.outbox import EMAIL, PAGERDUTY, SLACK
from bot.integrations.email.from_settings import email_sender
from bot.integrations.graphs.source import PrometheusGraphs, UnconfiguredGraphs
from bot.integrations.pagerduty import pagerduty_sender
from bot.integrations.prometheus_query import PrometheusQuery
from bot.integrations.slack.log_sender import LogSender
from bot.integrations.slack.sender import SlackSender
from bot.ports import Sender
from bot.services.escalation.reach import Reach

log = logging.getLogger("firebreak")


def outbox_senders(settings: Settings, slack: AsyncWebClient, clock: Clock) -> dict[str, Sender]:
    """The outbox's sender per target: a new target is a sender module and a line here.
    Without its settings a target's sender only logs (and its rows are kept unconfigured)."""
    return {
        SLACK: slack_sender(settings, slack, clock),
        PAGERDUTY: pagerduty_sender(settings, clock=clock),
        EMAIL: email_sender(settings, clock),
    }


def reach_of(settings: Settings) -> Reach:
    """Which ways of telling people are configured: the timeline says so when one is not."""
    return Reach(
        paging=settings.paging_configured,
        email=settings.smtp_url is not None,
    )


def slack_sender(settings: Settings, slack: AsyncWebClient, clock: Clock) -> Sender:
    """Real Slack with ``SLACK_BOT_TOKEN``, else log-only."""
    if settings.slack_bot_token is None:
        log.warning(
            "SLACK_BOT_TOKEN is unset: Slack calls are written to this log (cards, thread "
            "notes) and marked unconfigured"
        )
        return LogSender()
    return SlackSender(slack, clock=clock)


def metric_graphs(settings: Settings) -> PrometheusGraphs | UnconfiguredGraphs:
    """Graphs from ``FIREBREAK_PROMETHEUS_URL`` when set, else none (the timeline says so)."""
    if settings.prometheus_url is None:
        log.warning(
            "FIREBREAK_PROMETHEUS_URL is unset: incidents get no metric graph, and their "
            "timeline says so"
        )
        return UnconfiguredGraphs()
    return PrometheusGraphs(PrometheusQuery(settings.prometheus_url))


async def cluster_for(settings: Settings) -> KubeCluster | UnconfiguredCluster:
    """KUBECONFIG when set, the pod's service account inside Kubernetes, else none: the bot
    still runs and remediation answers that Kubernetes is not configured."""
    if settings.kubeconfig is not None:
        return await KubeCluster.from_kubeconfig(settings.kubeconfig)
    if settings.kubernetes_service_host:
        return KubeCluster.in_cluster()
    log.warning("no KUBECONFIG and not in a pod: remediation actions are refused")
    return UnconfiguredCluster()


def warn_unconfigured(settings: Settings) -> None:
    """One WARNING per way in that stays closed, or way out that only logs, for lack of its
    setting (email's is logged where its sender is chosen)."""
    if settings.alertmanager_token is None:
        log.warning("FIREBREAK_ALERTMANAGER_TOKEN is unset: /webhooks/alertmanager refuses all")
    if not settings.pagerduty_webhook_secrets:
        log.warning("PAGERDUTY_WEBHOOK_SECRETS is unset: /webhooks/pagerduty refuses all")
    if settings.slack_signing_secret is None:
        log.warning("SLACK_SIGNING_SECRET is unset: /slack/events answers 503")
    if settings.api_token is None:
        log.warning("FIREBREAK_API_TOKEN is unset: /api/incidents refuses all")
    if not settings.paging_configured:
        log.warning("PAGERDUTY_ROUTING_KEY is unset: pages are written to this log, not sent")
