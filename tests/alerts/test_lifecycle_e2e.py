"""Things end and replacements come, across the queue: a real Celery worker on Redis, PostGIS,
Twilio's real client against the fake, replies through the signed webhook, and the sweep sent
to the worker as beat sends it."""

import datetime as dt
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertDelivery
from alerts.services.lifecycle import EXPIRED_DELIVERY_ERROR
from amk.models import Incident, IncidentEvent
from tests.factories import AARHUS_C, DispatcherFactory, DispatchPolicyFactory, VolunteerFactory
from tests.factories import point as lonlat

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "Frederiks Allé 112, 8000 Aarhus C"
INBOUND = "http://testserver/webhooks/twilio/inbound/"


@pytest.fixture
def real_providers(settings, twilio_backend_settings, fcm_backend_settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    return settings


def wait_until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def sms_volunteer(step: int):
    """A volunteer without the app, `step` × ~111 m north of the incident."""
    return VolunteerFactory(location=lonlat(AARHUS_C[0], AARHUS_C[1] + 0.001 * step))


def create_incident(client) -> Incident:
    client.force_login(DispatcherFactory())
    response = client.post(
        reverse("amk:incident_create"),
        {"location": f"{AARHUS_C[1]}, {AARHUS_C[0]}", "address": ADDRESS},
    )
    assert response.status_code == 302
    return Incident.objects.get()


def reply(client, fake_twilio, volunteer, body: str, sid: str) -> None:
    form = {"From": str(volunteer.phone), "Body": body, "MessageSid": sid}
    response = client.post(INBOUND, form, HTTP_X_TWILIO_SIGNATURE=fake_twilio.sign(INBOUND, form))
    assert response.status_code == 200


def beat_sweeps(app) -> None:
    app.send_task("alerts.tasks.sweep_task")


def test_an_alert_sms_stops_retrying_when_it_expires_and_a_late_ja_is_too_late(
    dispatch_worker, reference_geography, real_providers, fake_twilio, client
):
    DispatchPolicyFactory(alert_valid_s=5, push_receipt_timeout_s=600, escalate_after_s=600)
    volunteer = sms_volunteer(3)
    fake_twilio.faults.error_rate = 1.0  # Twilio overloaded: every send answered 503

    incident = create_incident(client)
    wait_until(lambda: len(fake_twilio.attempts) >= 2)  # the first try, and a retry 2 s later
    alert = Alert.objects.get(incident=incident)
    delivery = AlertDelivery.objects.get(alert=alert)
    wait_until(lambda: timezone.now() - alert.created_at > dt.timedelta(seconds=5.2))
    beat_sweeps(dispatch_worker)
    wait_until(lambda: Alert.objects.get(pk=alert.pk).state == Alert.State.EXPIRED)

    # The next retry was due 4 s after the second try, past the 5 s: it does not happen.
    time.sleep(max(0.0, 8 - (timezone.now() - alert.created_at).total_seconds()))
    assert len(fake_twilio.attempts) == 2
    delivery.refresh_from_db()
    assert delivery.state == AlertDelivery.State.FAILED
    assert delivery.last_error == EXPIRED_DELIVERY_ERROR
    assert IncidentEvent.objects.filter(incident=incident, kind="alert_expired").count() == 1

    fake_twilio.faults.error_rate = 0.0
    reply(client, fake_twilio, volunteer, "JA", "SMlate")
    time.sleep(1)
    alert.refresh_from_db()
    assert alert.state == Alert.State.EXPIRED
    assert alert.role == ""
    assert not AlertDelivery.objects.filter(alert=alert, kind=AlertDelivery.Kind.DETAILS).exists()
    assert all(ADDRESS not in sms.body for sms in fake_twilio.messages.all())


def test_replace_mode_brings_the_next_nearest_and_beat_closes_the_incident_at_last(
    dispatch_worker, reference_geography, real_providers, fake_twilio, client
):
    DispatchPolicyFactory(
        mode="replace",
        outstanding_target=2,
        target_accepted=2,
        push_receipt_timeout_s=600,
        escalate_after_s=600,
        auto_close_after_s=3600,
    )
    volunteers = [sms_volunteer(step) for step in (2, 4, 6, 8)]
    phones = [str(v.phone) for v in volunteers]

    incident = create_incident(client)
    first_wave = fake_twilio.wait_for_messages(2, timeout=15)
    assert {sms.to for sms in first_wave} == set(phones[:2])

    reply(client, fake_twilio, volunteers[0], "NEJ", "SMno")
    replacement = fake_twilio.wait_for_messages(3, timeout=15)[-1]
    assert replacement.to == phones[2]
    assert "JA" in replacement.body
    assert ADDRESS not in replacement.body

    reply(client, fake_twilio, volunteers[1], "JA", "SMyes")
    details = fake_twilio.wait_for_messages(4, timeout=15)[-1]
    assert details.to == phones[1]
    assert ADDRESS in details.body
    assert not Alert.objects.filter(incident=incident, volunteer=volunteers[3]).exists()

    # Left open for an hour: beat's sweep closes it, and the ones still alerted hear so.
    Incident.objects.filter(pk=incident.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=61)
    )
    beat_sweeps(dispatch_worker)
    stand_downs = fake_twilio.wait_for_messages(6, timeout=15)[4:]

    assert {sms.to for sms in stand_downs} == {phones[1], phones[2]}
    assert all(ADDRESS not in sms.body for sms in stand_downs)
    incident.refresh_from_db()
    assert incident.state == Incident.State.CLOSED
    event = IncidentEvent.objects.get(incident=incident, kind="auto_closed")
    assert event.message == "Lukket automatisk efter 60 min"
    # The close path (released with thanks), not the cancel path.
    assert Alert.objects.get(incident=incident, volunteer=volunteers[1]).state == "released"
    time.sleep(0.5)
    assert len(fake_twilio.messages) == 6
