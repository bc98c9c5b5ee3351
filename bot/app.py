"""The composition root: the only place that names concrete adapters. It builds the aiohttp
application from the settings, wiring the store, policy, clock and handlers together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import SecretStr

from actions.cluster import KubeCluster
from actions.unconfigured import UnconfiguredCluster
from bot.adapters import (
    cluster_for,
    metric_graphs,
    outbox_senders,
    reach_of,
    warn_unconfigured,
)
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.domain.outbox import PAGERDUTY
from bot.integrations.alertmanager.silences import AlertmanagerSilences
from bot.integrations.notify.publisher import NotificationPublisher
from bot.integrations.outbox.worker import OutboxWorker
from bot.integrations.pagerduty import PagerDutyOnCall, PagerDutySender
from bot.integrations.prometheus import PrometheusMetrics
from bot.integrations.slack.actions import ActionProgress
from bot.integrations.slack.directory import SlackDirectory
from bot.integrations.slack.publisher import SlackPublisher
from bot.integrations.slack.sender import make_client
from bot.policy.file import load_policy
from bot.policy.model import Policy
from bot.ports import Publisher
from bot.services.escalation.reactor import EscalationReactor
from bot.services.escalation.worker import escalation_worker
from bot.services.graphs.on_demand import IncidentGraphs
from bot.services.graphs.reactor import GraphReactor
from bot.services.graphs.worker import graph_worker
from bot.services.incidents.inbox import InboxProcessor, ProcessorTimings
from bot.services.incidents.intake_pressure import IntakePressure, StormPacing
from bot.services.incidents.silence import Silencer
from bot.services.incidents.silence_watch import silence_watcher
from bot.services.live.feed import LiveFeed, LiveLimits
from bot.services.maintenance.worker import maintenance_worker
from bot.services.notifications import NotificationOutcomes
from bot.services.publishing import PublishingStore
from bot.services.remediation.context import RemediationContext, Timings
from bot.services.remediation.remediator import STOP_TIMEOUT_S, Remediator
from bot.services.remediation.sweeper import sweeper as remediation_sweeper
from bot.workers import TaskSet, Worker
from db.engine import make_engine
from db.intake.inbox import SqlInbox
from db.migrate import upgrade_async
from db.repositories.timeline import SqlTimelineFeed
from db.store import SqlStore
from handlers.alertmanager_schema import parse_alertmanager
from handlers.deps import DEPS, Deps
from handlers.errors import error_middleware
from handlers.events import LIVE_FEED
from handlers.pagerduty_schema import parse_pagerduty
from handlers.routes import add_routes
from handlers.slack.app import build_bolt_app
from handlers.slack.route import mount_slack
from handlers.ui.app import mount_ui
from handlers.ui.config import UiConfig

log = logging.getLogger("firebreak")

# What the app holds while it runs, one key per resource; each is set by its own cleanup
# context below, in the order they depend on each other, so shutdown (aiohttp runs the
# contexts' cleanups in reverse) stops every user of a resource before the resource.
SQL = web.AppKey("sql_store", SqlStore)
OUTBOX = web.AppKey("outbox_worker", OutboxWorker)
STORE = web.AppKey("store", PublishingStore)
CLUSTER: web.AppKey[KubeCluster | UnconfiguredCluster] = web.AppKey("cluster")
# The one-off tasks: executions an approval starts, and Slack's work after its ack.
EXECUTIONS = web.AppKey("executions", TaskSet)
SLACK_WORK = web.AppKey("slack_work", TaskSet)
REMEDIATOR = web.AppKey("remediator", Remediator)
SWEEPER = web.AppKey("remediation_sweeper", Worker)
ESCALATION = web.AppKey("escalation_worker", Worker)
MAINTENANCE = web.AppKey("maintenance_worker", Worker)
GRAPH_WORKER = web.AppKey("graph_worker", Worker)
# The incident's graph on demand, for the incident page (``/ui/incidents/{id}/graph.png``).
GRAPHS = web.AppKey("incident_graphs", IncidentGraphs)
INBOX = web.AppKey("inbox", SqlInbox)
# The inbox processor of a running app: tests drain it to see a delivery's effects at once.
PROCESSOR = web.AppKey("inbox_processor", InboxProcessor)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def create_app(
    settings: Settings, *, policy: Policy | None = None, clock: Clock | None = None
) -> web.Application:
    """Build the bot's app. The database opens (and, on SQLite, migrates) on start-up."""
    policy = policy if policy is not None else load_policy(settings.policy)
    the_clock = clock or SystemClock()
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[error_middleware])
    token = _secret(settings.slack_bot_token)
    # One Slack client for the outbox's sender, the approvers' directory and Bolt. Without
    # a token it is never used to send, but Bolt still needs one to answer commands.
    slack = make_client(token or "", settings.slack_api_url)
    metrics = PrometheusMetrics()
    # Built here, not at start-up, so a bad SMTP URL or PagerDuty URL stops `serve` before
    # anything opens.
    senders = outbox_senders(settings, slack, the_clock)
    oncall = PagerDutyOnCall.from_settings(settings)
    reach = reach_of(settings)
    graphs = metric_graphs(settings)
    graph_reactor = GraphReactor(the_clock, configured=graphs.configured)

    async def storage(app: web.Application) -> AsyncIterator[None]:
        if settings.is_sqlite:
            # The embedded default must work with no extra step; PostgreSQL deployments run
            # `firebreak db upgrade` once, not from every replica.
            await upgrade_async(settings.database_url)
        app[SQL] = SqlStore(make_engine(settings.database_url))
        yield
        await app[SQL].close()

    async def outbox(app: web.Application) -> AsyncIterator[None]:
        app[OUTBOX] = OutboxWorker(
            app[SQL],
            senders,
            the_clock,
            lease_seconds=settings.outbox_lease_seconds,
            poll_interval=settings.outbox_poll_seconds,
        )
        # Started by `publishing`, once its observer exists; stopped here, after every user.
        yield
        await app[OUTBOX].stop()
        # The pagerduty clients are synchronous (httpx): close their pools once nothing sends.
        pager = senders[PAGERDUTY]
        if isinstance(pager, PagerDutySender):
            pager.close()
        oncall.close()

    async def publishing(app: web.Application) -> AsyncIterator[None]:
        # The reactor first: it starts and stops the incident's escalation timers, which the
        # Slack card reads in the same transaction.
        # The notification publisher after Slack's: a mention goes beside the card it queued.
        publishers: list[Publisher] = [
            EscalationReactor(policy, the_clock, metrics),
            # Wants the graph of an incident that opens with a channel; the Slack publisher
            # queues its upload once the graph worker records it.
            graph_reactor,
            SlackPublisher(
                policy=policy,
                clock=the_clock,
                triage_channel=settings.slack_triage_channel,
                public_url=settings.public_url,
            ),
            NotificationPublisher(
                policy,
                the_clock,
                public_url=settings.public_url,
                triage_channel=settings.slack_triage_channel,
            ),
        ]
        app[STORE] = PublishingStore(app[SQL], publishers, after_commit=app[OUTBOX].wake)
        # A page or email refused for good becomes a timeline entry (and a thread line)
        # through the publishing store, which exists only now.
        app[OUTBOX].observe(NotificationOutcomes(app[STORE], the_clock, metrics=metrics))
        await app[OUTBOX].start()
        yield

    async def live(app: web.Application) -> AsyncIterator[None]:
        # The live feed reads the timeline every replica commits; this process's own commits
        # wake it at once. Its streams are ended on shutdown (close_streams below), before
        # aiohttp waits for handlers to finish; the poller stops here, after them.
        app[LIVE_FEED] = LiveFeed(
            SqlTimelineFeed(app[SQL].engine),
            the_clock,
            limits=LiveLimits(max_streams=settings.events_max_streams),
        )
        app[STORE].on_commit(app[LIVE_FEED].wake)
        await app[LIVE_FEED].start()
        yield
        await app[LIVE_FEED].stop()

    async def close_streams(app: web.Application) -> None:
        feed = app.get(LIVE_FEED)
        if feed is not None:
            feed.close_all()

    async def escalation(app: web.Application) -> AsyncIterator[None]:
        app[ESCALATION] = escalation_worker(
            app[STORE],
            policy,
            the_clock,
            reach,
            poll=settings.escalation_poll_seconds,
            metrics=metrics,
        )
        # A level due "at once" fires right after the commit that opened the incident.
        app[STORE].on_commit(app[ESCALATION].wake)
        await app[ESCALATION].start()
        yield
        await app[ESCALATION].stop()

    async def maintenance(app: web.Application) -> AsyncIterator[None]:
        # Records the end of windows that ran their course; a held incident still firing
        # then pages, through the escalation worker woken by this commit.
        app[MAINTENANCE] = maintenance_worker(
            app[STORE], policy, the_clock, poll=settings.escalation_poll_seconds
        )
        await app[MAINTENANCE].start()
        yield
        await app[MAINTENANCE].stop()

    async def graphing(app: web.Application) -> AsyncIterator[None]:
        # Draws the graphs incidents want outside any transaction, then records each (and
        # queues its upload) in one; woken after a commit that wanted one.
        app[GRAPH_WORKER] = graph_worker(
            app[STORE], graphs, the_clock, poll=settings.escalation_poll_seconds
        )
        app[GRAPHS] = IncidentGraphs(app[STORE], graphs, the_clock)
        worker = app[GRAPH_WORKER]

        def wake_if_wanted() -> None:
            if graph_reactor.take_wanted():
                worker.wake()

        app[STORE].on_commit(wake_if_wanted)
        await app[GRAPH_WORKER].start()
        yield
        await app[GRAPH_WORKER].stop()
        await graphs.close()

    async def cluster(app: web.Application) -> AsyncIterator[None]:
        app[CLUSTER] = await cluster_for(settings)
        yield
        await app[CLUSTER].close()

    async def executions(app: web.Application) -> AsyncIterator[None]:
        # After the cluster and the store, so they are stopped (cancelled, awaited) first.
        app[EXECUTIONS] = TaskSet("executions", stop_timeout=STOP_TIMEOUT_S)
        yield
        await app[EXECUTIONS].stop()

    async def remediation(app: web.Application) -> AsyncIterator[None]:
        app[REMEDIATOR] = Remediator(
            RemediationContext(
                store=app[STORE],
                cluster=app[CLUSTER],
                clock=the_clock,
                policy=policy,
                directory=SlackDirectory.over_api(slack if token else None),
                approvers=tuple(settings.approvers),
                timings=Timings(
                    approval_ttl=settings.approval_ttl,
                    rollout_deadline=settings.rollout_deadline,
                    rollout_poll=settings.rollout_poll,
                    action_lease=settings.action_lease,
                ),
                progress=ActionProgress(
                    store=app[SQL], policy=policy, clock=the_clock, after_commit=app[OUTBOX].wake
                ),
            ),
            executions=app[EXECUTIONS],
        )
        yield

    async def sweeper(app: web.Application) -> AsyncIterator[None]:
        app[SWEEPER] = remediation_sweeper(app[REMEDIATOR], the_clock)
        await app[SWEEPER].start()
        yield
        await app[SWEEPER].stop()

    async def intake(app: web.Application) -> AsyncIterator[None]:
        # Whether a storm is arriving is the service's call (its thresholds set the
        # processor's batch sizes); intake only reports arrivals to it. No setting tunes the
        # pacing yet: the defaults are the ones the ingest benchmark was run with.
        app[INBOX] = SqlInbox(app[SQL], pressure=IntakePressure(StormPacing()))
        yield
        await app[INBOX].close()

    async def processing(app: web.Application) -> AsyncIterator[None]:
        # The processor steps aside while an alert storm is arriving (intake's busy state,
        # see bot.services.incidents.inbox), and intake's commits wake it.
        processor = InboxProcessor(
            store=app[STORE],
            policy=policy,
            clock=the_clock,
            parse=parse_alertmanager,
            parse_pagerduty=parse_pagerduty,
            intake=app[INBOX],
            on_processed=lambda done: metrics.observe_processed(done, the_clock.now()),
            timings=ProcessorTimings(
                retry_base=settings.inbox_retry_base, max_attempts=settings.inbox_max_attempts
            ),
        )
        app[INBOX].wake_on_commit(processor.wake)
        app[PROCESSOR] = processor
        await processor.start()
        yield
        await processor.stop()

    async def handlers(app: web.Application) -> AsyncIterator[None]:
        # Silences go to the configured Alertmanager only (never a payload's externalURL).
        alertmanager = (
            AlertmanagerSilences(settings.alertmanager_url) if settings.alertmanager_url else None
        )
        silencer = Silencer(
            store=app[STORE],
            silences=alertmanager,
            directory=SlackDirectory.over_api(slack if token else None),
            approvers=tuple(settings.approvers),
            clock=the_clock,
            approval_ttl=settings.approval_ttl,
        )
        app[DEPS] = Deps(
            store=app[STORE],
            inbox=app[INBOX],
            policy=policy,
            clock=the_clock,
            metrics=metrics,
            alertmanager_token=_secret(settings.alertmanager_token),
            api_token=_secret(settings.api_token),
            pagerduty_secrets=tuple(
                s.get_secret_value() for s in settings.pagerduty_webhook_secrets
            ),
            remediator=app[REMEDIATOR],
            ready_max_inbox_age=settings.ready_max_inbox_age,
            reach=reach,
            oncall=oncall,
            silencer=silencer,
            graphs=app[GRAPHS],
            public_url=settings.public_url,
        )
        # The silence watcher notices silences whose end passed (their alerts that resolved
        # meanwhile are resolved then); it runs where the silencer is made.
        watcher = silence_watcher(silencer, the_clock)
        await watcher.start()
        yield
        await watcher.stop()
        if alertmanager is not None:
            await alertmanager.close()

    # Built here, not in its context: Bolt is built with the routes, before start-up.
    slack_work = TaskSet("slack")

    async def slack_tasks(app: web.Application) -> AsyncIterator[None]:
        # Last, so stopped first: Slack's work uses the store, the remediator and the inbox.
        app[SLACK_WORK] = slack_work
        yield
        await slack_work.stop()

    app.cleanup_ctx.extend(
        [
            storage,
            outbox,
            publishing,
            live,
            escalation,
            maintenance,
            graphing,
            cluster,
            executions,
            remediation,
            sweeper,
            intake,
            processing,
            handlers,
            slack_tasks,
        ]
    )
    app.on_shutdown.append(close_streams)
    add_routes(app)
    mount_ui(
        app,
        UiConfig(
            api_token=_secret(settings.api_token),
            public_url=settings.public_url,
            trusted_proxy_header=settings.trusted_proxy_header,
            session_seconds=settings.ui_session_seconds,
        ),
    )
    if settings.slack_signing_secret is not None:
        signing_secret = settings.slack_signing_secret.get_secret_value()
        bolt = build_bolt_app(
            app, signing_secret=signing_secret, client=slack, bot_token=token, tasks=slack_work
        )
        mount_slack(app, bolt, signing_secret)
    warn_unconfigured(settings)
    return app
