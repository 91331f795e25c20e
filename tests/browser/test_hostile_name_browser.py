"""A volunteer's first name is the volunteer's own text: on the dispatcher's board in Chromium
it must appear as literal text in the lists and in the map's tooltip, never as markup, and the
browser must never fetch what the name points at (issue 15, input and output)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert
from amk.models import Incident
from tests.browser.conftest import log_in, make_dispatcher, shot
from tests.factories import AlertFactory, IncidentFactory, VolunteerFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("reference_geography")]

EVE = "<img src=https://evil.example/x onerror=alert(1)><b>Eve</b>"


def test_a_hostile_first_name_is_text_on_the_board(live_server, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    requests, dialogs, errors = [], [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    make_dispatcher()
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    eve = VolunteerFactory(user__first_name=EVE)
    alert = AlertFactory(
        incident=incident,
        volunteer=eve,
        state=Alert.State.EN_ROUTE,
        role="cpr",
        answered_at=timezone.now(),
    )

    log_in(page, live_server)
    page.goto(live_server.url + reverse("amk:incident_detail", args=[incident.pk]))
    row = page.locator(f'#responders tr[data-alert="{alert.pk}"]')
    expect(row).to_contain_text(EVE)  # the name, character for character, as text
    expect(page.locator(f'#alerts tr[data-alert="{alert.pk}"]')).to_contain_text(EVE)
    page.wait_for_selector(".responder-icon")
    page.locator(".responder-icon").first.hover(force=True)
    tooltip = page.locator(".leaflet-tooltip", has_text=EVE)
    expect(tooltip).to_have_count(1)
    # Wait for at least one poll to re-render the board from board.json (the JS path).
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some(e => e.name.includes('board.json'))"
    )
    expect(row).to_contain_text(EVE)

    # Nothing was made from the name: no <img>, no <b>, no request, no script.
    assert page.locator("img[src*='evil.example']").count() == 0
    assert page.locator("main img:not(.leaflet-tile), main b").count() == 0
    assert page.locator(".leaflet-tooltip img, .leaflet-tooltip b").count() == 0
    assert [url for url in requests if "evil.example" in url] == []
    assert dialogs == []
    assert errors == []
    shot(page, "board_hostile_name")
