"""The fake Slack's file upload (``tests/fakes/slack/files.py``) driven by the real slack_sdk:
the three steps, slack_sdk's own ``files_upload_v2`` against it, and what Slack refuses."""

from __future__ import annotations

import json

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack.server import FakeSlack
from tests.fakes.slack.testing import TOKEN, build_scene, error_code, slack_error

DOC = "# Postmortem\n\nÜnïcode and 40,000 characters later…\n" + "x" * 41_000


@pytest.fixture
def client(slack_url: str) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack_url, retry_handlers=[])


async def _post(url: str, data: bytes | aiohttp.FormData) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(url, data=data) as resp:
        return resp.status, await resp.text()


async def test_three_steps_share_the_file_into_the_channel(
    fake: FakeSlack, client: AsyncWebClient, slack_url: str
) -> None:
    scene = build_scene(fake)
    data = DOC.encode()
    started = await client.files_getUploadURLExternal(filename="pm.md", length=len(data))
    upload_url, file_id = started["upload_url"], started["file_id"]
    assert upload_url.startswith(slack_url.removesuffix("api/") + "upload/v1/")
    assert await _post(upload_url, data) == (200, f"OK - {len(data)}")
    done = await client.files_completeUploadExternal(
        files=[{"id": file_id, "title": "Postmortem"}],
        channel_id=scene.incident,
        initial_comment="The postmortem",
    )
    assert [(f["id"], f["title"], f["name"]) for f in done["files"]] == [
        (file_id, "Postmortem", "pm.md")
    ]
    (shared,) = fake.files.shared_in(scene.incident)
    assert shared.text == DOC
    message = fake.messages(scene.incident)[-1]
    assert (message.text, message.files) == ("The postmortem", [file_id])
    assert fake.calls("upload")[0].args["bytes"] == len(data)


async def test_slack_sdks_own_upload_helper_works_against_the_fake(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    # files_upload_v2 posts the bytes its own way; the fake takes what Slack takes.
    scene = build_scene(fake)
    await client.files_upload_v2(
        channel=scene.incident, content=DOC, filename="pm.md", title="PM", initial_comment="hi"
    )
    (shared,) = fake.files.shared_in(scene.incident)
    assert (shared.text, shared.title) == (DOC, "PM")


async def test_a_multipart_upload_is_read_like_raw_bytes(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    started = await client.files_getUploadURLExternal(filename="a.png", length=4)
    form = aiohttp.FormData()
    form.add_field("filename", b"\x89PNG", filename="a.png")
    assert await _post(started["upload_url"], form) == (200, "OK - 4")
    assert fake.files.files[started["file_id"]].data == b"\x89PNG"


async def test_what_slack_refuses(fake: FakeSlack, client: AsyncWebClient) -> None:
    scene = build_scene(fake)
    channel = scene.incident

    async def complete(files: object, **more: str) -> str:
        return await error_code(
            client.api_call(
                "files.completeUploadExternal",
                params={"files": json.dumps(files), "channel_id": channel, **more},
            )
        )

    assert await complete([{"id": "F0NEVER0001"}]) == "file_not_found"
    never_sent = await client.files_getUploadURLExternal(filename="a.md", length=3)
    # An upload whose bytes never arrived is not a file yet.
    assert await complete([{"id": never_sent["file_id"]}]) == "file_not_found"
    assert await complete([]) == "invalid_arguments"
    assert await complete({"id": "F1"}) == "invalid_arguments"
    assert await complete([{"title": "no id"}]) == "invalid_arguments"
    no_files = client.api_call("files.completeUploadExternal", params={"channel_id": channel})
    assert await error_code(no_files) == "invalid_arguments"
    refusals: list[tuple[dict[str, object], str]] = [
        ({"length": 3}, "invalid_arguments"),
        ({"filename": "a", "length": 0}, "missing_argument"),
        ({"filename": "a", "length": "three"}, "invalid_arguments"),
        ({"filename": "a", "length": 3, "alt_txt": "x" * 1001}, "alt_txt_too_large"),
        ({"filename": "a", "length": 3, "snippet_type": "cobol"}, "unknown_snippet_type"),
    ]
    for args, error in refusals:
        call = client.api_call("files.getUploadURLExternal", params=args)
        assert await error_code(call) == error, args

    # The upload URL takes exactly the announced length, once.
    started = await client.files_getUploadURLExternal(filename="b.md", length=3)
    url, file_id = started["upload_url"], started["file_id"]
    assert (await _post(url, b"four"))[0] == 400
    assert await _post(url, b"abc") == (200, "OK - 3")
    assert (await _post(url, b"abc"))[0] == 410
    assert (await _post(url.rsplit("/", 1)[0] + "/nope", b"abc"))[0] == 404
    # Sharing needs a channel the bot is in.
    assert await complete([{"id": file_id}], channel_id=scene.outside) == "not_in_channel"
    assert await complete([{"id": file_id}], channel_id="C0NOPE") == "channel_not_found"
    # Completing is once only.
    await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=channel)
    assert await complete([{"id": file_id}]) == "file_not_found"
    assert [f.id for f in fake.files.shared_in(channel)] == [file_id]
    # The abandoned upload is in no channel.
    assert fake.files.files[never_sent["file_id"]].channel is None


async def test_injected_failures(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.faults.fail("files.getUploadURLExternal", status=500)
    failed = await slack_error(client.files_getUploadURLExternal(filename="a.md", length=1))
    assert failed.response.status_code == 500
    started_ok = await client.files_getUploadURLExternal(filename="a.md", length=1)
    fake.faults.fail("upload", status=503, error="unavailable")
    assert await _post(started_ok["upload_url"], b"a") == (503, "unavailable")
    assert await _post(started_ok["upload_url"], b"a") == (200, "OK - 1")
