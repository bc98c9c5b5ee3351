"""Build the real bot app (real store, real handlers) for in-process HTTP tests."""

from __future__ import annotations

from aiohttp import web

from bot.app import create_app
from bot.clock import Clock
from bot.config import Settings
from bot.policy import Policy

AM_TOKEN = "am-token"
API_TOKEN = "api-token"
PD_SECRET = "pd-secret-new"
PD_OLD_SECRET = "pd-secret-old"
AM_AUTH = {"Authorization": f"Bearer {AM_TOKEN}"}
API_AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def bot_app(database_url: str, policy: Policy, clock: Clock | None = None) -> web.Application:
    settings = Settings(
        database_url=database_url,
        alertmanager_token=AM_TOKEN,
        api_token=API_TOKEN,
        pagerduty_webhook_secrets=f"{PD_SECRET},{PD_OLD_SECRET}",
    )
    return create_app(settings, policy=policy, clock=clock)
