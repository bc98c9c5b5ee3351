"""A fake Slack Web API over real HTTP, for the real ``slack_sdk`` and ``slack_bolt`` clients.

    fake = FakeSlack(token="xoxb-test")
    async with run_fake_slack(fake) as url:          # http://127.0.0.1:<port>/api/
        client = AsyncWebClient(token="xoxb-test", base_url=url)
        fake.faults.rate_limit("chat.postMessage", calls=1, retry_after=1)
        ...
        assert [m.text for m in fake.messages(channel_id)] == [...]

Arguments are read as Slack reads them: the query string, then a form or JSON body (slack_sdk
sends ``params`` as a query string and message methods as JSON). Answers are HTTP 200 with
``{"ok": ...}``, except injected faults (503, 429 with ``Retry-After``, ``faults.fail``) and
unknown methods (404). File uploads (``tests.fakes.slack.files``) take their bytes at
``/upload/v1/<ticket>``, the URL ``files.getUploadURLExternal`` hands out.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tests.fakes.slack.faults import Clock, Fault, FaultPlan, RecordedRequest, RequestLog
from tests.fakes.slack.files import UPLOAD_PATH, FileStore, upload_route
from tests.fakes.slack.models import Channel, Message
from tests.fakes.slack.state import SlackError, Workspace

Args = dict[str, Any]
Handler = Callable[["FakeSlack", Args], dict[str, Any]]
FAKE_TOKEN = "xoxb-fake-token"
FAKE_SLACK_KEY: web.AppKey[FakeSlack] = web.AppKey("fake_slack")


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))


class FakeSlack:
    """The controller a test holds: state to inspect, faults to inject, requests to check."""

    def __init__(self, token: str = FAKE_TOKEN, *, clock: Clock = time.monotonic) -> None:
        self.token = token
        self.clock = clock
        self.workspace = Workspace()
        self.faults = FaultPlan(clock)
        self.log = RequestLog()
        # Bodies posted to response_url hooks (``/hooks/{id}``), as Slack would show them.
        self.responses: list[dict[str, Any]] = []
        self.files = FileStore()
        # scheme://host:port of the last API request: where upload URLs point.
        self.origin = ""

    # -- inspection ------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        return self.log.requests

    def calls(self, method: str, *, ok: bool | None = None) -> list[RecordedRequest]:
        return self.log.calls(method, ok=ok)

    def channel(self, channel_id: str) -> Channel:
        return self.workspace.channels[channel_id]

    def channel_named(self, name: str) -> Channel:
        channel = self.workspace.channel_named(name)
        if channel is None:
            raise KeyError(name)
        return channel

    def messages(self, channel: str) -> list[Message]:
        """Messages of a channel (id or name), in the order Slack stored them."""
        found = self.workspace.channels.get(channel) or self.channel_named(channel)
        return list(found.messages)

    # -- dispatch ------------------------------------------------------------------------
    def authenticate(self, request: web.Request, args: Args) -> None:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else args.pop("token", None)
        args.pop("token", None)
        if not token:
            raise SlackError("not_authed")
        if token != self.token:
            raise SlackError("invalid_auth")

    def call(self, method: str, args: Args) -> dict[str, Any]:
        return {"ok": True, **METHODS[method](self, args)}


async def _read_args(request: web.Request) -> Args:
    args: Args = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return args
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise SlackError("invalid_json") from exc
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        args.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return args


def _answer(
    record: RecordedRequest, body: dict[str, Any], status: int = 200, fault: Fault | None = None
) -> web.Response:
    record.status, record.error = status, None if body.get("ok") else body.get("error")
    headers = {}
    if fault is not None and fault.retry_after is not None:
        record.retry_after = fault.retry_after
        headers["Retry-After"] = str(fault.retry_after)
    return web.json_response(body, status=status, headers=headers)


async def _api(request: web.Request) -> web.Response:
    fake = request.app[FAKE_SLACK_KEY]
    method = request.match_info["method"]
    content_type = request.content_type if request.can_read_body else ""
    record = fake.log.add(
        method=method,
        args={},
        received_at=fake.clock(),
        http_method=request.method,
        content_type=content_type,
    )
    try:
        args = await _read_args(request)
    except SlackError as exc:
        return _answer(record, {"ok": False, "error": exc.error})
    record.args = {k: v for k, v in args.items() if k != "token"}
    fault = fake.faults.server_fault() or fake.faults.method_fault(method)
    if fault is not None:
        return _answer(record, {"ok": False, "error": fault.error}, fault.status, fault)
    fake.origin = f"{request.scheme}://{request.host}"
    if method not in METHODS:
        return _answer(record, {"ok": False, "error": "unknown_method", "req_method": method}, 404)
    try:
        fake.authenticate(request, args)
        fault = fake.faults.rate_limit_fault(record)
        if fault is not None:
            return _answer(record, {"ok": False, "error": fault.error}, fault.status, fault)
        answer = _answer(record, fake.call(method, args))
        fake.faults.answered_ok()
        return answer
    except SlackError as exc:
        body: dict[str, Any] = {"ok": False, "error": exc.error}
        if exc.messages:
            body["response_metadata"] = {"messages": exc.messages}
        return _answer(record, body)


def create_app(fake: FakeSlack) -> web.Application:
    """The aiohttp app serving ``/api/{method}`` for ``fake``."""
    app = web.Application(client_max_size=16 * 1024**2)
    app[FAKE_SLACK_KEY] = fake
    app.router.add_route("*", "/api/{method}", _api)
    app.router.add_post("/hooks/{hook}", _response_url)
    app.router.add_post(
        UPLOAD_PATH + "{ticket}", upload_route(fake.files, fake.log, fake.faults, fake.clock)
    )
    return app


async def _response_url(request: web.Request) -> web.Response:
    """A ``response_url``: Slack shows the posted message to the person (ephemeral) or in the
    channel; the fake keeps it for the test to read."""
    fake = request.app[FAKE_SLACK_KEY]
    body = await request.json()
    fake.responses.append({"hook": request.match_info["hook"], **body})
    return web.Response(text="ok")


@asynccontextmanager
async def run_fake_slack(fake: FakeSlack) -> AsyncIterator[str]:
    """Serve ``fake`` on 127.0.0.1, port 0; yields the ``base_url`` for slack_sdk (ends ``/api/``)."""
    runner = web.AppRunner(create_app(fake), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}/api/"
    finally:
        await runner.cleanup()


# -- methods ---------------------------------------------------------------------------------
def _auth_test(fake: FakeSlack, args: Args) -> dict[str, Any]:
    ws = fake.workspace
    return {
        "url": f"https://{ws.team_id.lower()}.slack.com/",
        "team": ws.team,
        "user": ws.bot_user.name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user.id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def _channel_answer(fake: FakeSlack, channel: Channel) -> dict[str, Any]:
    return {"channel": channel.as_json(fake.workspace.bot_user.id)}


def _create(fake: FakeSlack, args: Args) -> dict[str, Any]:
    channel = fake.workspace.create_channel(
        args.get("name"), is_private=_truthy(args.get("is_private"))
    )
    return _channel_answer(fake, channel)


def _set_topic(fake: FakeSlack, args: Args) -> dict[str, Any]:
    return _channel_answer(fake, fake.workspace.set_topic(args.get("channel"), args.get("topic")))


def _invite(fake: FakeSlack, args: Args) -> dict[str, Any]:
    return _channel_answer(fake, fake.workspace.invite(args.get("channel"), args.get("users")))


def _info(fake: FakeSlack, args: Args) -> dict[str, Any]:
    return _channel_answer(fake, fake.workspace.visible_channel(args.get("channel")))


def _list(fake: FakeSlack, args: Args) -> dict[str, Any]:
    page, next_cursor = fake.workspace.list_channels(
        args.get("types"), args.get("cursor"), args.get("limit")
    )
    viewer = fake.workspace.bot_user.id
    return {
        "channels": [c.as_json(viewer) for c in page],
        "response_metadata": {"next_cursor": next_cursor},
    }


def _join(fake: FakeSlack, args: Args) -> dict[str, Any]:
    channel, already = fake.workspace.join(args.get("channel"))
    answer = _channel_answer(fake, channel)
    if already:
        answer["warning"] = "already_in_channel"
        answer["response_metadata"] = {"warnings": ["already_in_channel"]}
    return answer


def _post(fake: FakeSlack, args: Args) -> dict[str, Any]:
    channel, message = fake.workspace.post_message(
        args.get("channel"), args.get("text"), args.get("blocks"), args.get("thread_ts")
    )
    return {"channel": channel.id, "ts": message.ts, "message": message.as_json()}


def _update(fake: FakeSlack, args: Args) -> dict[str, Any]:
    channel, message = fake.workspace.update_message(
        args.get("channel"), args.get("ts"), args.get("text"), args.get("blocks")
    )
    return {
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message.as_json(),
    }


def _ephemeral(fake: FakeSlack, args: Args) -> dict[str, Any]:
    ephemeral = fake.workspace.post_ephemeral(
        args.get("channel"),
        args.get("user"),
        args.get("text"),
        args.get("blocks"),
        args.get("thread_ts"),
    )
    return {"message_ts": ephemeral.message_ts}


def _upload_url(fake: FakeSlack, args: Args) -> dict[str, Any]:
    return fake.files.start(args, fake.origin)


def _complete_upload(fake: FakeSlack, args: Args) -> dict[str, Any]:
    return fake.files.complete(fake.workspace, args)


def _usergroup_users(fake: FakeSlack, args: Args) -> dict[str, Any]:
    return {"users": fake.workspace.usergroup_users(args.get("usergroup"))}


def _users_info(fake: FakeSlack, args: Args) -> dict[str, Any]:
    return {"user": fake.workspace.user_info(args.get("user"))}


METHODS: dict[str, Handler] = {
    "auth.test": _auth_test,
    "conversations.create": _create,
    "conversations.setTopic": _set_topic,
    "conversations.invite": _invite,
    "conversations.info": _info,
    "conversations.join": _join,
    "conversations.list": _list,
    "chat.postMessage": _post,
    "chat.update": _update,
    "chat.postEphemeral": _ephemeral,
    "files.getUploadURLExternal": _upload_url,
    "files.completeUploadExternal": _complete_upload,
    "usergroups.users.list": _usergroup_users,
    "users.info": _users_info,
}

__all__ = ["FAKE_SLACK_KEY", "FakeSlack", "create_app", "run_fake_slack"]
