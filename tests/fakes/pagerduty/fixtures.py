"""The fixtures of tests that talk to the fake PagerDuty (a pytest plugin of the root
``tests/conftest.py``): it served over TLS with a CA this process trusts
(``pagerduty_served``: the fake and its base URL), and the fake alone (``fake_pagerduty``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.pagerduty.server import FakePagerDuty
from tests.fakes.pagerduty.testing import serving


@pytest.fixture
async def pagerduty_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FakePagerDuty, str]]:
    fake = FakePagerDuty()
    async with serving(fake, tmp_path, monkeypatch) as url:
        yield fake, url


@pytest.fixture
def fake_pagerduty(pagerduty_served: tuple[FakePagerDuty, str]) -> FakePagerDuty:
    return pagerduty_served[0]
