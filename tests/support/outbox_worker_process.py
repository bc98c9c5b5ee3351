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

from bot.config import load_settings
from bot.integrations.outbox.worker import build_outbox_worker
from db.store import SqlStore


async def main() -> None:
    settings = load_settings()
    store = SqlStore.from_url(settings.database_url)
    worker = build_outbox_worker(
        settings,
        store,
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
