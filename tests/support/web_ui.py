"""The incident web page driven as a browser drives it: the real bot app on a test server,
signed in through the form (its CSRF cookie and token included), pages read as HTML."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Any

from aiohttp import ClientResponse, web

from bot.app import create_app
from bot.clock import Clock
from bot.config import Settings
from bot.policy.model import Policy
from tests.support.bot_app import AM_TOKEN, API_TOKEN, Client

_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
# What every /ui response must carry, whatever it is.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def web_app(
    database_url: str, policy: Policy, clock: Clock | None = None, **settings: Any
) -> web.Application:
    """The bot with an API token (and Alertmanager's), on loopback http unless
    ``public_url`` says otherwise."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "alertmanager_token": AM_TOKEN,
        "api_token": API_TOKEN,
        "public_url": "http://127.0.0.1:8080",
        **settings,
    }
    return create_app(Settings(**values), policy=policy, clock=clock)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the sign-in page has no form token"
    return found.group(1)


async def sign_in(
    client: Client, token: str = API_TOKEN, *, next_path: str = "/ui/", **fields: str
) -> ClientResponse:
    """Load the form (its cookie and token), post ``token``; the answer, not followed."""
    form = await client.get("/ui/sign-in")
    assert form.status == 200, await form.text()
    data = {"csrf": csrf_of(await form.text()), "next": next_path, **fields}
    if token:
        data["token"] = token
    return await client.post("/ui/sign-in", data=data, allow_redirects=False)


def set_cookie(response: ClientResponse, name: str) -> dict[str, str]:
    """The attributes of the ``Set-Cookie`` for ``name`` (lower-case keys; ``value`` too)."""
    for header in response.headers.getall("Set-Cookie", []):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            morsel = jar[name]
            attrs = {k: str(v) for k, v in morsel.items() if v}
            flags = {part.strip().lower() for part in header.split(";")}
            attrs["value"] = morsel.value
            attrs["httponly"] = str("httponly" in flags)
            attrs["secure"] = str("secure" in flags)
            return attrs
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.getall('Set-Cookie', [])}")


def row_ids(html: str, table: str) -> list[int]:
    """The incident ids of one list table (``open`` or ``resolved``), in order."""
    return [int(i) for i in re.findall(rf'<tr id="{table}-(\d+)"', html)]
