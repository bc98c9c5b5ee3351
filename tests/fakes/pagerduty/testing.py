"""Seeds for the fake PagerDuty: routing keys of the right length, and the on-call rotation
of the runbook (seed 000) as PagerDuty would hold it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.pagerduty.directory import Directory, Named, User
from tests.fakes.pagerduty.server import FakePagerDuty, run_fake_pagerduty
from tests.support.tls import make_tls, trust

# Events API v2 routing keys are 32 characters.
ROUTING_KEY = "R0UT1NGKEYDEFAULT000000000000001"
LNN_ROUTING_KEY = "R0UT1NGKEYLNNSERVICE000000000002"
PRIMARY_EMAIL = "liquid-edge-oncall@company.com"
SECONDARY_EMAIL = "platform-oncall@company.com"
MANAGER_EMAIL = "liquid-edge-lead@company.com"
UNTIL = "2026-12-08T09:00:00Z"


@dataclass(frozen=True, slots=True)
class Rotation:
    """What ``seed_rotation`` made: the runbook's policy and service, and another team's."""

    policy: Named
    other_policy: Named
    primary: User
    secondary: User
    manager: User
    other: User


def seed_rotation(directory: Directory) -> Rotation:
    """Policy "Liquid Edge" (service "lnn-service" uses it): the primary on call at level 1
    through a weekly schedule, the secondary at 2, the manager at 3 directly (no schedule);
    and policy "Storage" with someone else at level 1, which a lookup for Liquid Edge must
    not return. Entries are added out of level order on purpose."""
    primary = directory.add_user("Liquid Edge On-Call", PRIMARY_EMAIL)
    secondary = directory.add_user("Platform On-Call", SECONDARY_EMAIL)
    manager = directory.add_user("Liquid Edge Lead", MANAGER_EMAIL)
    other = directory.add_user("Storage On-Call", "storage-oncall@company.com")
    policy = directory.add_policy("Liquid Edge")
    other_policy = directory.add_policy("Storage")
    directory.add_service("lnn-service", policy)
    directory.add_oncall(policy, 3, manager)
    directory.add_oncall(other_policy, 1, other, schedule="Storage weekly", end=UNTIL)
    directory.add_oncall(
        policy, 1, primary, schedule="Liquid Edge primary", start="2026-12-01T09:00:00Z", end=UNTIL
    )
    directory.add_oncall(
        policy, 2, secondary, schedule="Platform secondary", start="2026-12-01T09:00:00Z", end=UNTIL
    )
    return Rotation(policy, other_policy, primary, secondary, manager, other)


@asynccontextmanager
async def serving(
    fake: FakePagerDuty, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    """Run ``fake`` over TLS with a new CA that this process trusts (``SSL_CERT_FILE``, set
    before any client is built); yields its base URL."""
    tls = make_tls(directory)
    trust(tls, monkeypatch)
    async with run_fake_pagerduty(fake, tls) as url:
        yield url
