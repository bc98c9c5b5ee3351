"""The composition root: the only place that names concrete adapters. It builds the aiohttp
application from the settings, wiring the store, policy, clock and handlers together."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator

import uvloop
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from actions.cluster import KubeCluster
from actions.unconfigured import UnconfiguredCluster
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.integrations.outbox.worker import build_outbox_worker
from bot.integrations.slack.actions import ActionProgress
from bot.integrations.slack.directory import SlackDirectory
from bot.integrations.slack.publisher import SlackPublisher
from bot.integrations.slack.sender import make_client
from bot.policy.file import load_policy
from bot.policy.model import Policy
from bot.services.incidents.inbox import InboxProcessor, ProcessorTimings
from bot.services.publishing import PublishingStore
from bot.services.remediation.remediator import Remediator, Timings
from db.engine import make_engine
from db.intake.inbox import SqlInbox
from db.migrate import upgrade_async
from db.store import SqlStore
from handlers.alertmanager_schema import parse_alertmanager
from handlers.deps import DEPS, Deps
from handlers.errors import error_middleware
from handlers.metrics import Metrics
from handlers.routes import add_routes
from handlers.slack.app import build_bolt_app
from handlers.slack.route import mount_slack
from httpguard.aiohttp_guard import Guards
from httpguard.clock import Limits, Sweeper
from httpguard.refusals import RefusalLog

log = logging.getLogger("firebreak")

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

    async def storage(app: web.Application) -> AsyncIterator[None]:
        if settings.is_sqlite:
            # The embedded default must work with no extra step; PostgreSQL deployments run
            # `firebreak db upgrade` once, not from every replica.
            await upgrade_async(settings.database_url)
        engine = make_engine(settings.database_url)
        sql = SqlStore(engine)
        worker = build_outbox_worker(
            settings,
            sql,
            clock=the_clock,
            lease_seconds=settings.outbox_lease_seconds,
            poll_interval=settings.outbox_poll_seconds,
        )
        publisher = SlackPublisher(
            policy=policy, clock=the_clock, triage_channel=settings.slack_triage_channel
        )
        store = PublishingStore(sql, publisher, after_commit=worker.poke)
        cluster = await _cluster(settings)
        token = _secret(settings.slack_bot_token)
        remediator = Remediator(
            store=store,
            cluster=cluster,
            clock=the_clock,
            policy=policy,
            directory=SlackDirectory(make_client(token, settings.slack_api_url) if token else None),
            approvers=settings.approvers,
            timings=Timings(
                approval_ttl=settings.approval_ttl,
                rollout_deadline=settings.rollout_deadline,
                rollout_poll=settings.rollout_poll,
                action_lease=settings.action_lease,
            ),
            progress=ActionProgress(
                store=sql, policy=policy, clock=the_clock, after_commit=worker.poke
            ),
        )
        metrics = Metrics()
        # Intake commits deliveries and wakes the processor; the processor, in turn, steps
        # aside while an alert storm is arriving (see bot.services.incidents.inbox).
        inbox = SqlInbox(sql, on_commit=lambda: processor.poke())
        processor = InboxProcessor(
            store=store,
            policy=policy,
            clock=the_clock,
            parse=parse_alertmanager,
            intake=inbox,
            on_processed=lambda done: metrics.observe_processed(done, the_clock.now()),
            timings=ProcessorTimings(
                retry_base=settings.inbox_retry_base, max_attempts=settings.inbox_max_attempts
            ),
        )
        app[PROCESSOR] = processor
        app[DEPS] = Deps(
            store=store,
            inbox=inbox,
            policy=policy,
            clock=the_clock,
            metrics=metrics,
            alertmanager_token=_secret(settings.alertmanager_token),
            api_token=_secret(settings.api_token),
            pagerduty_secrets=tuple(
                s.get_secret_value() for s in settings.pagerduty_webhook_secrets
            ),
            remediator=remediator,
            ready_max_inbox_age=settings.ready_max_inbox_age,
        )
        await worker.start()
        await remediator.start()
        await processor.start()
        yield
        await inbox.close()
        await processor.stop()
        await remediator.stop()
        await worker.stop()
        await cluster.close()
        await sql.close()

    app.cleanup_ctx.append(storage)
    add_routes(app)
    if settings.slack_signing_secret is not None:
        token = _secret(settings.slack_bot_token)
        signing_secret = settings.slack_signing_secret.get_secret_value()
        bolt = build_bolt_app(
            app,
            signing_secret=signing_secret,
            client=make_client(token or "", settings.slack_api_url),
            bot_token=token,
        )
        mount_slack(app, bolt, signing_secret)
    _warn_unconfigured(settings)
    return app


async def _cluster(settings: Settings) -> KubeCluster | UnconfiguredCluster:
    """KUBECONFIG when set, the pod's service account inside Kubernetes, else none: the bot
    still runs and remediation answers that Kubernetes is not configured."""
    if settings.kubeconfig is not None:
        return await KubeCluster.from_kubeconfig(settings.kubeconfig)
    if settings.kubernetes_service_host:
        return KubeCluster.in_cluster()
    log.warning("no KUBECONFIG and not in a pod: remediation actions are refused")
    return UnconfiguredCluster()


def _warn_unconfigured(settings: Settings) -> None:
    if settings.alertmanager_token is None:
        log.warning("FIREBREAK_ALERTMANAGER_TOKEN is unset: /webhooks/alertmanager refuses all")
    if not settings.pagerduty_webhook_secrets:
        log.warning("PAGERDUTY_WEBHOOK_SECRETS is unset: /webhooks/pagerduty refuses all")
    if settings.slack_signing_secret is None:
        log.warning("SLACK_SIGNING_SECRET is unset: /slack/events answers 503")
    if settings.api_token is None:
        log.warning("FIREBREAK_API_TOKEN is unset: /api/incidents refuses all")


async def _tune_gc(_app: web.Application) -> None:
    """Keep the cyclic garbage collector off the ack path.

    Everything loaded at start-up (SQLAlchemy metadata, Bolt, the Kubernetes client) is
    frozen out of collection, and young collections run less often: in an alert storm the
    collector otherwise kept scanning that long-lived heap and paused the acknowledgements
    waiting behind it (docs/ingest-benchmark.md, "How it got here", has the figures).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Run the bot until SIGINT/SIGTERM."""
    app = create_app(settings)
    # After the storage context on purpose: on_startup runs the cleanup contexts first.
    app.on_startup.append(_tune_gc)
    log.info(
        "firebreak serving on http://%s:%d (database %s)",
        host,
        port,
        redacted_database_url(settings),
    )
    # uvloop: the ack path of an alert storm is mostly event-loop and socket work.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(app, settings, host, port))


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner ``serve`` uses (tests that serve the app in-process use it too): no access
    log, run_app's 75 s keep-alive, and a request aiohttp's parser refuses (400) logged as
    one escaped INFO line instead of an ERROR with a traceback, since it is the sender's fault.
    """
    return web.AppRunner(app, access_log=None, keepalive_timeout=75.0, logger=RefusalLog())


async def _serve(app: web.Application, settings: Settings, host: str, port: int) -> None:
    # Not web.run_app: its sites hand connections straight to aiohttp, which has no timeout
    # for a request head or body (only for idle keep-alive), so slow clients are cut by
    # httpguard in front of aiohttp's protocol.
    runner = make_runner(app)
    await runner.setup()
    server = runner.server
    assert server is not None
    cut = app[DEPS].metrics.connections_cut
    limits = Limits(settings.header_timeout, settings.body_min_rate, settings.body_grace)
    loop = asyncio.get_running_loop()
    guards = Guards(server, Sweeper(loop, limits), lambda reason: cut.labels(reason.value).inc())
    listener = await loop.create_server(guards, host, port, reuse_address=True, backlog=1024)
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        listener.close()
        await runner.cleanup()


def redacted_database_url(settings: Settings) -> str:
    """The database URL for logs: the password masked."""
    # SQLAlchemy's own rendering, so every URL form it parses is masked the same way.
    return make_url(settings.database_url).render_as_string(hide_password=True)
