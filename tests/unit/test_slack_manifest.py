"""``deploy/slack-app-manifest.yaml``: its structure, and least privilege: every Slack method
firebreak calls is allowed by a scope in the manifest, and every scope is used."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.slack.server import METHODS as FAKE_METHODS

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "slack-app-manifest.yaml"
EVENTS_URL = "https://firebreak.example.com/slack/events"

# Web API method → the bot scopes that allow it (any one is enough), from Slack's method
# reference. Only public channels: firebreak never creates private ones. Add a row (and the
# scope to the manifest) before calling a new method.
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "conversations.create": frozenset({"channels:manage"}),
    "conversations.setTopic": frozenset({"channels:manage"}),
    "conversations.invite": frozenset({"channels:manage"}),
    "conversations.info": frozenset({"channels:read"}),
    "conversations.list": frozenset({"channels:read"}),
    "conversations.join": frozenset({"channels:join"}),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    # Not a Web API method: the outbox's name for the two above and the upload between them
    # (bot/integrations/slack/files.py), as Slack's SDKs name that flow.
    "files.uploadV2": frozenset({"files:write"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "users.info": frozenset({"users:read"}),
}
# Events API bot events → the scope that delivers them.
EVENT_SCOPES = {
    "member_joined_channel": "channels:read",
    "channel_archive": "channels:read",
}
# Scopes that are not about Web API methods.
FEATURE_SCOPES = {"commands"}  # slash commands

# How code names a Web API method: slack_sdk's `client.chat_postMessage(...)` or the
# method string itself (`api_call("chat.postMessage")`, outbox rows).
_SDK_CALL = re.compile(
    r"\.((?:auth|chat|conversations|usergroups|users|views|reactions|files|pins|bookmarks)_[A-Za-z_]+)\("
)
_METHOD_STRING = re.compile(
    r"[\"']((?:auth|chat|conversations|usergroups|users|views|reactions|files|pins|bookmarks)\.[A-Za-z.]+)[\"']"
)
_SOURCES = ("bot", "handlers", "actions", "db")
# Strings the scanner would take for methods: Slack's file host, where uploads go.
NOT_METHODS = frozenset({"files.slack.com"})


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def bot_scopes(manifest: dict[str, Any]) -> set[str]:
    scopes = manifest["oauth_config"]["scopes"]
    assert set(scopes) == {"bot"}, "firebreak needs no user-token scopes"
    return set(scopes["bot"])


def methods_in_code() -> set[str]:
    found: set[str] = set()
    for package in _SOURCES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            found |= {m.replace("_", ".") for m in _SDK_CALL.findall(text)}
            found |= set(_METHOD_STRING.findall(text))
    return found - NOT_METHODS


def test_structure(manifest: dict[str, Any]) -> None:
    assert manifest["_metadata"]["major_version"] == 1
    assert manifest["display_information"]["name"] == "firebreak"
    assert manifest["features"]["bot_user"]["display_name"] == "firebreak"
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/incident"
    assert command["url"] == EVENTS_URL
    assert command["should_escape"] is True  # mentions arrive as <@U…|name>
    assert len(command["description"]) <= 100
    settings = manifest["settings"]
    assert settings["interactivity"] == {"is_enabled": True, "request_url": EVENTS_URL}
    assert settings["event_subscriptions"]["request_url"] == EVENTS_URL
    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False


def test_every_method_the_fake_slack_serves_has_a_scope_row() -> None:
    # The fake serves what the bot calls; a new method there needs a decision here.
    assert set(FAKE_METHODS) <= set(METHOD_SCOPES)


def test_every_method_named_in_the_code_has_a_scope_row() -> None:
    unknown = methods_in_code() - set(METHOD_SCOPES)
    assert not unknown, f"add these Slack methods to METHOD_SCOPES and the manifest: {unknown}"


def test_every_method_is_allowed_by_the_manifest(manifest: dict[str, Any]) -> None:
    scopes = bot_scopes(manifest)
    for method, allowed in METHOD_SCOPES.items():
        assert not allowed or allowed & scopes, f"{method} needs one of {sorted(allowed)}"


def test_every_event_is_delivered_by_a_granted_scope(manifest: dict[str, Any]) -> None:
    scopes = bot_scopes(manifest)
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert events
    for event in events:
        assert EVENT_SCOPES[event] in scopes


def test_no_scope_is_granted_without_a_use(manifest: dict[str, Any]) -> None:
    used = set().union(*METHOD_SCOPES.values(), EVENT_SCOPES.values(), FEATURE_SCOPES)
    assert bot_scopes(manifest) <= used
    for risky in (
        "chat:write.public",
        "chat:write.customize",
        "channels:history",
        "admin",
        "groups:write",
    ):
        assert risky not in bot_scopes(manifest)


def test_the_method_scanner_recognises_both_spellings() -> None:
    sample = 'await client.conversations_setTopic(channel=c)\nrow("usergroups.users.list")\n'
    found = {m.replace("_", ".") for m in _SDK_CALL.findall(sample)}
    found |= set(_METHOD_STRING.findall(sample))
    assert found == {"conversations.setTopic", "usergroups.users.list"}
