"""Fixtures for the integration tests that talk to the fake Slack over HTTP.

``fake`` is a seeded fake Slack; a module that needs another (a clock of its own, or a fake
Kubernetes) defines its own ``fake``, which pytest prefers, and ``slack_url`` serves whichever
Slack fake the module has."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.slack.server import FakeSlack, run_fake_slack
from tests.fakes.slack.testing import seeded_fake


@pytest.fixture
def fake() -> FakeSlack:
    return seeded_fake()


@pytest.fixture
async def slack_url(fake: FakeSlack) -> AsyncIterator[str]:
    """The fake Slack's API base URL, served on loopback for the test."""
    async with run_fake_slack(fake) as url:
        yield url
