"""A headless Debian Chromium driven by selenium, as the browser tests use it.

``Browser.open(url)`` loads a page; every load's console is read and kept, and
``assert_clean()`` fails on a console error, a blank page or a known placeholder page.
Screenshots go to the artifacts folder.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: the machine's network is closed: without these, Chromium's own connections fail and log
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1150",
)
#: what the stack's components show when their UI is missing
PLACEHOLDERS = (
    "This is not the Jaeger UI you are looking for",
    "placeholder for the Jaeger UI",
    "Error opening React index.html",
    "UI not built",
    "404 page not found",
)


class Browser:
    """One Chromium with a fresh profile; console errors of every page are collected."""

    def __init__(self, artifacts: Path) -> None:
        self.artifacts = artifacts
        self.profile = Path(tempfile.mkdtemp(prefix="amas-chromium-"))
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        self.console: list[dict[str, Any]] = []

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, url: str) -> None:
        self._read_console()
        self.console.clear()
        self.driver.get(url)

    def wait_for(self, what: str, found: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Polls ``found`` until it returns something truthy; fails naming ``what``."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(lambda _: found())
        except TimeoutException:
            self.screenshot("failed-" + "".join(c if c.isalnum() else "-" for c in what)[:60])
            raise AssertionError(
                f"{what}: not seen within {timeout:.0f} s on {self.driver.current_url}"
            ) from None

    def css(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements("css selector", selector)

    def text(self) -> str:
        return self.driver.find_element("tag name", "body").text

    def screenshot(self, name: str) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def _read_console(self) -> None:
        self.console.extend(self.driver.get_log("browser"))

    def console_errors(self) -> list[str]:
        self._read_console()
        return [entry["message"] for entry in self.console if entry["level"] == "SEVERE"]

    def assert_clean(self) -> None:
        """The page has text, is no placeholder, and logged no console error."""
        body = self.text()
        assert body.strip(), f"blank page: {self.driver.current_url}"
        shown = [p for p in PLACEHOLDERS if p.lower() in body.lower()]
        assert not shown, f"placeholder page {shown} at {self.driver.current_url}"
        errors = self.console_errors()
        assert not errors, f"console errors on {self.driver.current_url}: {errors}"
