"""Alertmanager's built-in web UI in a real browser: the new UI (ui/mantine-ui, at /ui/) is
built in and shows the running config; / says plainly that the classic Elm UI is not built."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amas_devstack.native_stack import NativeStack
from amas_devstack.ports import Ports
from browser import Browser

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    stack = NativeStack(tmp_path_factory.mktemp("alertmanager"), Ports.random(), ("alertmanager",))
    stack.up(timeout=60)
    try:
        yield stack
    finally:
        stack.down()


def test_the_new_ui_shows_the_running_config(chromium: Browser, alertmanager: NativeStack):
    chromium.open(f"{alertmanager.alertmanager_url}/ui/#/config")  # the UI routes by hash
    chromium.wait_for("the config page", lambda: "team-slack" in chromium.text())
    assert "oncall-pager" in chromium.text()  # receivers of rules/alertmanager.yml
    chromium.assert_clean()
    chromium.screenshot("alertmanager-config")


def test_the_new_ui_lists_alerts_and_status(chromium: Browser, alertmanager: NativeStack):
    chromium.open(f"{alertmanager.alertmanager_url}/ui/#/status")
    chromium.wait_for("the status page", lambda: "0.35.0" in chromium.text())
    chromium.assert_clean()


def test_the_root_page_says_the_classic_ui_is_not_built(chromium: Browser, alertmanager: NativeStack):
    chromium.open(f"{alertmanager.alertmanager_url}/")
    assert "classic UI is not built" in chromium.text()
    assert not chromium.console_errors()
    chromium.driver.find_element("link text", "open it").click()
    chromium.wait_for("the new UI", lambda: chromium.driver.current_url.endswith("/ui/#/alerts"))
    chromium.assert_clean()
