"""The idle time-out in Chromium: the incident list keeps polling, which does not keep the
session; the page warns in Danish ahead of the time-out, "Bliv logget ind" keeps the session,
and without it the dispatcher lands on the login page, told why."""

import pytest

from tests.browser.conftest import PASSWORD, log_in, make_dispatcher, shot

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


def test_a_dispatcher_enrols_an_authenticator_and_logs_in_with_a_code(
    live_server, browser_page, settings
):
    import base64

    from django_otp.oath import TOTP
    from playwright.sync_api import expect

    settings.OTP_REQUIRED = True
    page = browser_page
    make_dispatcher()
    page.goto(f"{live_server.url}/console/")
    page.fill("#id_username", "disponent")
    page.fill("#id_password", PASSWORD)
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{live_server.url}/login/code/new/**")
    expect(page.locator("#otp-qr svg")).to_be_visible()  # drawn on our page, not fetched
    shot(page, "otp_enrol")
    secret = page.locator("#otp-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#id_token", f"{TOTP(key).token():06d}")
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{live_server.url}/console/")
    expect(page.locator(".userbox")).to_be_visible()
