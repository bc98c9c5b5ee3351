"""A real headless Chromium for the web page's tests: Debian's ``chromium`` driven through
Debian's ``chromedriver`` by Selenium. Nothing downloads a browser or a driver: both paths
are given, so Selenium Manager is never asked to find one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from tests.support.binaries import need


@contextmanager
def chromium(downloads: Path, *, width: int = 390, height: int = 844) -> Iterator[webdriver.Chrome]:
    """A headless Chromium (a phone-sized window unless told), closed afterwards."""
    options = Options()
    options.binary_location = need("chromium")
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        f"--window-size={width},{height}",
        f"--user-data-dir={downloads / 'profile'}",
    ):
        options.add_argument(argument)
    service = Service(
        executable_path=need("chromedriver"), log_output=str(downloads / "driver.log")
    )
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
