"""The console in a real browser: Playwright drives Debian's Chromium against the live server.

A dispatcher logs in, finds Aarhus in the place search, clicks the map, creates the incident and
watches the board: when a volunteer accepts (through alerts.services, as the app would), the
page shows it without a reload. The dispatch itself crosses the queue to a real Celery worker.
"""

import pytest
from django.contrib.auth.models import Group

from alerts.models import Alert
from alerts.services import answers
from amk.access import DISPATCHERS_GROUP
from amk.models import Incident
from tests.browser.conftest import PASSWORD, log_in, make_dispatcher, shot, wait_for
from tests.factories import DefibrillatorFactory, DeviceFactory, UserFactory, VolunteerFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("reference_geography")]


def test_dispatcher_creates_incident_and_sees_acceptance_live(
    live_server, dispatch_worker, browser_page
):
    page = browser_page
    dispatcher = UserFactory(username="disponent", first_name="Dorte")
    dispatcher.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    volunteers = [DeviceFactory(volunteer__user__first_name="Mette").volunteer]
    volunteers += VolunteerFactory.create_batch(2)
    DefibrillatorFactory(name="Hjertestarter Domkirken")

    # Log in: the console sends an anonymous visitor to the login page and back.
    page.goto(f"{live_server.url}/console/")
    assert "/login/" in page.url
    page.fill("#id_username", "disponent")
    page.fill("#id_password", PASSWORD)
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{live_server.url}/console/")
    shot(page, "incident_list_empty")

    # New incident: search Aarhus, then click the map near where the search put it.
    page.click("a.nav-new")
    page.wait_for_url("**/console/incidents/new/")
    page.wait_for_function("window.hjMap !== undefined")
    page.fill("#place-q", "Aarhus")
    page.wait_for_selector("#place-results li[role=option]")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('id_location').value !== ''")
    searched = page.input_value("#id_location")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 60)
    clicked = page.input_value("#id_location")
    assert clicked
    assert clicked != searched
    lat, lon = (float(v) for v in clicked.split(","))
    assert 56.0 < lat < 56.3
    assert 10.0 < lon < 10.4
    page.fill("#id_address", "Store Torv 1, 8000 Aarhus C")
    shot(page, "incident_new")
    page.click("#submit-incident")
    page.wait_for_url("**/console/incidents/*/")
    incident = Incident.objects.get()
    assert page.url.endswith(f"/console/incidents/{incident.pk}/")
    assert incident.municipality.name == "Aarhus"

    # The worker dispatches the first wave; the board shows the alerts without a reload.
    page.evaluate("window.__sameDocument = true")
    alerts = wait_for(lambda: list(Alert.objects.filter(incident=incident)))
    assert len(alerts) == 3
    from playwright.sync_api import expect

    # Locator assertions, not wait_for_function: the console's CSP forbids eval in the page.
    expect(page.locator(".counts [data-count=alerted]")).to_have_text("3")

    alert = Alert.objects.get(incident=incident, volunteer=volunteers[0])
    answers.alert_accept(alert_id=alert.pk, volunteer=volunteers[0])

    page.wait_for_selector("#responders .badge.state-accepted")
    expect(page.locator(".counts [data-count=accepted]")).to_have_text("1")
    responders = page.inner_text("#responders")
    assert "Mette" in responders
    assert str(volunteers[0].phone) in responders
    assert page.evaluate("window.__sameDocument") is True
    page.wait_for_selector(".responder-icon")  # the responder on the map
    shot(page, "incident_detail")

    page.goto(f"{live_server.url}/console/")
    page.wait_for_selector(f"tr[data-href='/console/incidents/{incident.pk}/']")
    shot(page, "incident_list")


def test_a_messages_detail_shows_its_attempts_and_stays_open_across_polls(
    live_server, browser_page
):
    from django.utils import timezone

    from alerts.models import AlertDelivery, AlertDeliveryAttempt
    from tests.factories import AlertDeliveryFactory, AlertFactory, IncidentFactory

    page = browser_page
    errors = []
    page.on("pageerror", lambda error: errors.append(error))  # noqa: PLW0108  playwright tags the handler; a builtin method takes no attribute
    dispatcher = UserFactory(username="disponent")
    dispatcher.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    delivery = AlertDeliveryFactory(
        alert=AlertFactory(incident=incident, state=Alert.State.SENT),
        channel=AlertDelivery.Channel.SMS,
        state=AlertDelivery.State.SENT,
        attempts=2,
    )
    now = timezone.now()
    Outcome = AlertDeliveryAttempt.Outcome
    for number, outcome, error, sid in (
        (1, Outcome.TRANSIENT_ERROR, "Twilio refused the message: HTTP 503", ""),
        (2, Outcome.SENT, "", "SM0123456789abcdef"),
    ):
        AlertDeliveryAttempt.objects.create(
            delivery=delivery, number=number, claimed_at=now, handed_over_at=now,
            finished_at=now, outcome=outcome, error=error, provider_message_id=sid,
            duration_ms=40 * number,
        )  # fmt: skip

    page.goto(f"{live_server.url}/console/")
    page.fill("#id_username", "disponent")
    page.fill("#id_password", PASSWORD)
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{live_server.url}/console/")
    page.goto(f"{live_server.url}/console/incidents/{incident.pk}/")
    from playwright.sync_api import expect

    detail = page.locator("#alerts details.delivery")
    expect(detail).to_have_count(1)
    detail.locator("summary").click()
    attempts = detail.locator("ol.attempts li")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("HTTP 503")
    expect(attempts.nth(1)).to_contain_text("SM0123456789abcdef")
    expect(attempts.nth(1)).to_contain_text("80 ms")
    shot(page, "message_detail")
    # The board re-renders on every poll; the open detail stays open.
    page.wait_for_timeout(5000)
    expect(page.locator("#alerts details.delivery[open] ol.attempts li")).to_have_count(2)
    assert errors == []


def test_the_console_warns_before_submit_when_the_pin_is_in_another_region(
    live_server, browser_page
):
    from playwright.sync_api import expect

    page = browser_page
    make_dispatcher()
    log_in(page, live_server)
    page.goto(f"{live_server.url}/console/incidents/new/")
    page.wait_for_function("window.hjMap !== undefined")
    warning = page.locator("#region-warning")

    page.fill("#id_location", "55.3959, 10.3883")  # Odense
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Region Syddanmark")
    shot(page, "incident_new_other_region")

    page.fill("#id_location", "56.1536, 10.2140")  # Dokk1, 36 m outside the outline
    expect(warning).to_be_hidden()
    page.click("#submit-incident")
    page.wait_for_url("**/console/incidents/*/")
    assert Incident.objects.get().municipality.name == "Aarhus"
