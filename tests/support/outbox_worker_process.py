"""A bare outbox worker process, for the restart tests: ``python -m`` this module.

Reads the bot's settings from the environment (``FIREBREAK_DATABASE_URL``,
``SLACK_BOT_TOKEN``, ``SLACK_API_URL``) plus ``OUTBOX_TEST_LEASE_SECONDS``, and sends until
SIGTERM (or until it is killed, which is the point).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from bot.adapters import outbox_senders
from bot.clock import SystemClock
from bot.config import load_settings
from bot.integrations.outbox.worker import OutboxWorker
from bot.integrations.slack.sender import make_client
from db.store import SqlStore


async def main() -> None:
    settings = load_settings()
    store = SqlStore.from_url(settings.database_url)
    clock = SystemClock()
    token = settings.slack_bot_token
    slack = make_client(token.get_secret_value() if token else "", settings.slack_api_url)
    worker = OutboxWorker(
        store,
        outbox_senders(settings, slack, clock),
        clock,
        poll_interval=0.05,
        lease_seconds=float(os.environ.get("OUTBOX_TEST_LEASE_SECONDS", "60")),
        backoff_base=0.05,
        backoff_cap=0.2,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await worker.start()
    logging.getLogger("firebreak.outbox").info("outbox worker %s running", worker.worker_id)
    try:
        await stop.wait()
    finally:
        await worker.stop()
        await store.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main())
