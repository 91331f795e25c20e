"""The idle time-out in Chromium: the incident list keeps polling, which does not keep the
session; the page warns in Danish ahead of the time-out, "Bliv logget ind" keeps the session,
and without it the dispatcher lands on the login page, told why."""

import pytest

from tests.browser.conftest import log_in, make_dispatcher, shot

pytestmark = [pytest.mark.browser]


def test_the_idle_warning_keeps_or_ends_the_session(live_server, browser_page, settings):
    from playwright.sync_api import expect

    settings.SESSION_IDLE_TIMEOUT_S = 12
    settings.SESSION_IDLE_WARNING_S = 8
    page = browser_page
    make_dispatcher()
    log_in(page, live_server)  # the incident list, which polls every 4 s
    warning = page.locator("#session-warning")
    expect(warning).to_be_hidden()
    expect(warning).to_be_visible(timeout=15_000)
    expect(warning).to_contain_text("Du bliver logget ud om")
    shot(page, "session_warning")

    page.click("#session-warning button")
    expect(warning).to_be_hidden()
    assert page.url == f"{live_server.url}/console/"

    # No click this time: the polling goes on, and the session ends anyway.
    expect(warning).to_be_visible(timeout=15_000)
    page.wait_for_url(f"{live_server.url}/login/**", timeout=20_000)
    expect(page.locator("#timeout-reason")).to_contain_text("uden aktivitet")
    page.goto(f"{live_server.url}/console/")
    expect(page.locator("#id_username")).to_be_visible()  # logged out for real
