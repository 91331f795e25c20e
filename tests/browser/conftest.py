"""What the browser tests share: Playwright driving Debian's Chromium, a dispatcher's login."""

import os
import time

import pytest
from django.contrib.auth.models import Group

from amk.access import DISPATCHERS_GROUP
from tests.factories import UserFactory

# Playwright's sync API runs an event loop in this thread; the ORM calls here are synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")  # a directory, to keep screenshots


@pytest.fixture
def browser_page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="da-DK")
        page = context.new_page()
        page.set_default_timeout(15_000)
        # No tile server in tests: fail tile requests at once; the offline outlines remain.
        page.route("**/*.png", lambda route: route.abort())
        yield page
        context.close()
        browser.close()


def make_dispatcher(username: str = "disponent", **fields):
    user = UserFactory(username=username, **fields)
    user.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    return user


def log_in(page, live_server, username: str = "disponent") -> None:
    page.goto(f"{live_server.url}/console/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{live_server.url}/console/")


def wait_for(predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)
