"""The board tells the truth at a glance, in a real browser (Playwright, Debian's Chromium).

A dispatcher creates an incident in the console; a real Celery worker dispatches it;
volunteers accept through alerts.services as the app would. At every step the counts in the
board's header agree with the rows of its tables; the dispatcher stands one responder down
from the board and closes the incident, and the closed board still agrees with itself.
"""

import re

import pytest
from django.utils.translation import override

from alerts.models import Alert, AlertDelivery
from alerts.services import answers
from amk.models import Incident
from tests.browser.conftest import log_in, make_dispatcher, shot, wait_for
from tests.factories import DefibrillatorFactory, DeviceFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("reference_geography")]

JENS = 'Jens<img src=x onerror="document.body.dataset.xss=1">'


def _expect_counts_agree_with_tables(page, expected: dict[str, int]) -> None:
    """The header shows ``expected``; the tables have exactly as many rows of each kind."""
    from playwright.sync_api import expect

    for key, n in expected.items():
        expect(page.locator(f".counts [data-count={key}]")).to_have_text(str(n))
    expect(page.locator("#responders tr.alert-row")).to_have_count(expected["accepted"])
    expect(page.locator("#alerts tr.alert-row")).to_have_count(expected["alerted"])
    for key, n in expected.items():
        # Every row says which counts it is in: the header is the sum of the rows.
        rows = page.locator(f"#alerts tr.alert-row[data-counted~={key}]")
        expect(rows).to_have_count(n)
    expect(page.locator(".card-title [data-count=accepted]")).to_have_text(
        str(expected["accepted"])
    )
    if expected["accepted"]:
        expect(page.locator("#responders")).not_to_contain_text("Ingen har accepteret")


def test_board_counts_agree_from_create_to_close(live_server, dispatch_worker, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    errors = []
    page.on("pageerror", lambda error: errors.append(error))  # noqa: PLW0108  playwright tags the handler; a builtin method takes no attribute
    make_dispatcher(first_name="Dorte")
    mette = DeviceFactory(volunteer__user__first_name="Mette").volunteer
    # A name is the volunteer's own text: it must reach the page (and the map) as text only.
    jens = DeviceFactory(volunteer__user__first_name=JENS).volunteer
    DeviceFactory(volunteer__user__first_name="Hemmelig")
    DefibrillatorFactory(name="Hjertestarter Domkirken")

    log_in(page, live_server)
    page.click("a.nav-new")
    page.wait_for_url("**/console/incidents/new/")
    page.fill("#id_location", "56.1567, 10.2108")
    page.fill("#id_address", "Store Torv 1, 8000 Aarhus C")
    page.click("#submit-incident")
    page.wait_for_url(re.compile(r".*/console/incidents/\d+/$"))
    incident = Incident.objects.get()

    # The worker alerts the three (one wave: the default policy); the board follows.
    wait_for(lambda: Alert.objects.filter(incident=incident, state=Alert.State.SENT).count() == 3)
    expect(page.locator("[data-field=wave]")).to_have_text(re.compile(r"^Bølge 1 af 1 · radius"))
    _expect_counts_agree_with_tables(
        page, {"alerted": 3, "sent": 3, "waiting": 3, "accepted": 0, "on_the_way": 0}
    )
    expect(page.locator("#responders")).to_contain_text("Ingen har accepteret endnu")

    # Mette and Jens accept; Jens reports he is on his way.
    with override("da"):
        for volunteer in (mette, jens):
            alert = Alert.objects.get(incident=incident, volunteer=volunteer)
            answers.alert_accept(alert_id=alert.pk, volunteer=volunteer)
        jens_alert = Alert.objects.get(incident=incident, volunteer=jens)
        answers.alert_progress(alert_id=jens_alert.pk, volunteer=jens, state="en_route")
    expect(page.locator("#responders tr.alert-row")).to_have_count(2)
    _expect_counts_agree_with_tables(
        page,
        {"alerted": 3, "waiting": 1, "accepted": 2, "on_the_way": 1, "on_scene": 0},
    )
    # "On the way" is Jens, whose row says so: not Mette, who has only accepted.
    on_the_way = page.locator("#alerts tr.alert-row[data-counted~=on_the_way]")
    expect(on_the_way).to_contain_text("Jens")
    expect(on_the_way.locator(".badge")).to_have_text("På vej")
    # Responders are named; the one who has not answered stays a number.
    expect(page.locator("#alerts")).not_to_contain_text("Hemmelig")
    timeline = page.locator("#timeline")
    expect(timeline.locator(".event-highlight")).to_have_count(2)
    expect(timeline.locator(".event-highlight").first).to_contain_text("Accepteret")
    expect(timeline).to_contain_text("3 alarmer sendt, bølge 1")
    page.wait_for_selector(".responder-icon")  # on the map
    expect(page.locator("#responders")).to_contain_text(JENS)
    for marker in page.locator(".responder-icon").all():
        marker.hover(force=True)
    expect(page.locator(".leaflet-tooltip", has_text=JENS)).to_have_count(1)
    assert page.locator("#board img:not(.leaflet-tile)").count() == 0
    assert page.get_attribute("body", "data-xss") is None
    shot(page, "board_accepted")

    # A header count filters the list of all alerts to the alerts it counts.
    page.click(".counts [data-filter=accepted]")
    expect(page.locator("#alerts tr.alert-row:visible")).to_have_count(2)
    page.click(".counts [data-filter=accepted]")
    expect(page.locator("#alerts tr.alert-row:visible")).to_have_count(3)

    # The dispatcher stands Jens down from his row, after confirming.
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.locator("#responders tr.alert-row", has_text="Jens").locator(
        ".stand-down-form button"
    ).click()
    page.wait_for_load_state()
    expect(page.locator(".message-success")).to_contain_text("afmeldt")
    assert "Jens" in dialogs[0]
    jens_alert.refresh_from_db()
    assert (jens_alert.state, jens_alert.role, jens_alert.aed_id) == ("cancelled", "", None)
    assert jens_alert.deliveries.filter(kind=AlertDelivery.Kind.STAND_DOWN).exists()
    _expect_counts_agree_with_tables(
        page, {"alerted": 3, "waiting": 1, "accepted": 1, "on_the_way": 0}
    )
    expect(page.locator("#timeline")).to_contain_text("Dorte")
    shot(page, "board_stood_down")

    # Close: the ambulance is there. The board shows closed and still agrees with itself.
    page.click("#actions .btn-good")
    expect(page.locator("[data-field=state]")).to_have_text("Afsluttet")
    _expect_counts_agree_with_tables(
        page, {"alerted": 3, "waiting": 0, "accepted": 1, "on_the_way": 0, "on_scene": 0}
    )
    expect(page.locator("#responders")).to_contain_text("Mette")
    expect(page.locator("#actions")).to_have_count(0)
    shot(page, "board_closed")
    assert errors == []
