"""The incident web page in a real headless Chromium (Debian's, driven through Debian's
chromedriver) against a real ``firebreak serve`` and the fake Slack: sign in with the token,
see an incident appear in the list live after a webhook, open it, see a timeline entry
appear live after ``/incident ack`` (without a reload), follow the card's link to the same
page, and keep a screenshot. Alert text that looks like markup stays text in the browser;
a page without a session, with a forged or an expired cookie, goes to sign-in."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from handlers.ui.access import SESSION_COOKIE
from handlers.ui.config import UiConfig
from handlers.ui.tokens import Session, seal
from tests.e2e.conftest import Processes
from tests.fakes.slack.server import run_fake_slack
from tests.fakes.slack.testing import TOKEN, seeded_fake
from tests.support.browser import chromium
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.processes import (
    ALERTMANAGER_TOKEN,
    API_TOKEN,
    Service,
    firebreak_env,
    poll_until,
)
from tests.support.slack_bot import post_slash_command

pytestmark = pytest.mark.slow

SECRET = "browser-signing-secret"
WAIT_S = 30
T = TypeVar("T")
# Screenshots are kept here (CI keeps the folder); a developer can point it elsewhere.
ARTIFACTS = Path(os.environ.get("FIREBREAK_TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    with chromium(tmp_path) as driver:
        yield driver


def wait_for(driver: WebDriver, what: str, check: Callable[[WebDriver], T]) -> T:
    """Poll the page until ``check`` answers something truthy; fail naming ``what``."""
    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(check, message=what)
    except Exception:
        print(driver.page_source[:4000])  # in the report, next to the bot's log
        raise


def signed_in(driver: WebDriver, base_url: str, token: str = API_TOKEN) -> None:
    driver.get(base_url + "/ui/")
    wait_for(driver, "the sign-in form", lambda d: "/ui/sign-in" in d.current_url)
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, "the incident list", lambda d: d.find_elements(By.ID, "incident-tables"))


async def post_alerts(http: aiohttp.ClientSession, bot: Service, key: str, *alerts: Any) -> None:
    async with http.post(
        bot.base_url + "/webhooks/alertmanager",
        data=json.dumps(webhook(key, list(alerts))),
        headers={"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
    ) as response:
        assert response.status == 202, await response.text()


def live(driver: WebDriver) -> bool:
    status = driver.find_elements(By.ID, "live-status")
    return bool(status) and status[0].get_attribute("data-state") == "live"


async def test_a_person_follows_an_incident_live_from_sign_in_to_acknowledgement(
    processes: Processes, http: aiohttp.ClientSession, tmp_path: Path, browser: WebDriver
) -> None:
    fake_slack = seeded_fake()
    async with run_fake_slack(fake_slack) as slack_url:
        env = firebreak_env(
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack_url,
            FIREBREAK_OUTBOX_POLL_SECONDS="0.2",
        )
        # The public URL is the bot's own, so the card's link leads back to it.
        bot = await processes.firebreak("bot", env=env, public_url=True)

        signed_in(browser, bot.base_url)
        wait_for(browser, "the live status", live)
        await post_alerts(
            http, bot, "g-down", alert("LNNServiceDown", "critical", service="lnn-service")
        )
        row = wait_for(
            browser,
            "the new incident's row, live",
            lambda d: d.find_elements(By.PARTIAL_LINK_TEXT, "LNNServiceDown"),
        )[0]
        href = row.get_attribute("href") or ""
        incident_id = int(href.rsplit("/", 1)[1])
        row.click()
        wait_for(browser, "the incident page", lambda d: d.find_elements(By.ID, "timeline"))
        assert f"#{incident_id}" in browser.find_element(By.TAG_NAME, "h1").text
        wait_for(browser, "the live status", live)
        # A mark the page would lose if it reloaded: the entry must arrive without one.
        browser.execute_script("window.firebreakMark = 'kept'")

        await post_slash_command(
            http, bot.base_url, f"ack {incident_id}", secret=SECRET, slack_url=slack_url
        )

        def acknowledged(d: WebDriver) -> bool:
            timeline = d.find_element(By.ID, "timeline").text
            return "Acknowledged" in timeline or "acknowledged" in timeline

        wait_for(browser, "the acknowledgement in the timeline, live", acknowledged)
        assert browser.execute_script("return window.firebreakMark") == "kept"
        # The heading's status moved with it, and nothing makes a phone scroll sideways.
        assert "acknowledged" in browser.find_element(By.ID, "heading").text
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        ), "the page is wider than the phone's screen"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "incident-page.png"
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000

        # The card in the incident's channel links to this very page.
        async def card_link_soon() -> str | None:
            return card_link()

        def card_link() -> str | None:
            for channel in fake_slack.workspace.channels.values():
                for message in channel.messages:
                    found = re.search(
                        rf"<({re.escape(bot.base_url)}/ui/incidents/{incident_id})\|",
                        json.dumps(message.blocks or []) + message.text,
                    )
                    if found:
                        return found.group(1)
            return None

        link = await poll_until(card_link_soon, timeout=WAIT_S, what="the card's link")
        browser.get(link)
        wait_for(browser, "the page from the card", lambda d: d.find_elements(By.ID, "timeline"))
        assert browser.current_url == link
        assert f"#{incident_id}" in browser.find_element(By.TAG_NAME, "h1").text
        bot.stop()


async def test_markup_in_alerts_stays_text_and_sessions_are_checked(
    processes: Processes, http: aiohttp.ClientSession, tmp_path: Path, browser: WebDriver
) -> None:
    env = firebreak_env(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    bot = await processes.firebreak("bot", env=env, public_url=True)
    script = "<script>window.firebreakOwned = 'script'</script>"
    image = "<img src=x onerror=\"window.firebreakOwned = 'img'\">"
    evil = alert("LNNServiceDown", "critical", service="lnn-service", note=script, picture=image)
    evil["annotations"]["summary"] = f"{script} {image}"
    await post_alerts(http, bot, "g-evil", evil)

    # Without a session: to sign-in. A forged cookie, and an expired one, are refused too.
    browser.get(bot.base_url + "/ui/incidents/1")
    wait_for(browser, "sign-in", lambda d: "/ui/sign-in" in d.current_url)
    config = UiConfig(api_token=API_TOKEN, public_url=bot.base_url)
    assert config.key is not None
    expired = seal(Session("mallory", datetime.now(UTC) - timedelta(minutes=1)), config.key)
    forged = seal(Session("mallory", datetime.now(UTC) + timedelta(hours=1)), b"k" * 32)
    for value in (forged, expired):
        browser.delete_all_cookies()
        browser.add_cookie({"name": SESSION_COOKIE, "value": value, "path": "/ui"})
        browser.get(bot.base_url + "/ui/incidents/1")
        wait_for(browser, "sign-in", lambda d: "/ui/sign-in" in d.current_url)
        assert "mallory" not in browser.page_source

    browser.delete_all_cookies()
    signed_in(browser, bot.base_url)
    browser.get(bot.base_url + "/ui/incidents/1")
    alerts = wait_for(browser, "the alerts", lambda d: d.find_elements(By.ID, "alerts"))[0]
    shown = alerts.text
    assert script in shown  # the label reads as the text it is
    assert image in shown
    assert alerts.find_elements(By.TAG_NAME, "img") == []
    assert alerts.find_elements(By.TAG_NAME, "script") == []
    assert browser.execute_script("return window.firebreakOwned === undefined")
    bot.stop()
