"""The whole dispatch loop through a real worker, Redis, PostGIS and the providers' real clients."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertDelivery
from amk.models import Incident
from tests.delivery import delivery_send
from tests.factories import (
    AARHUS_C,
    DefibrillatorFactory,
    DeviceFactory,
    DispatcherFactory,
    DispatchPolicyFactory,
    VolunteerFactory,
    point,
)

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "Store Torv 1, 8000 Aarhus C"


def _volunteer_north_of_incident(step: int, **kwargs):
    """A volunteer `step` × ~111 m north of the incident, so distance order is known."""
    lon, lat = AARHUS_C
    return VolunteerFactory(location=point(lon, lat + 0.001 * step), **kwargs)


@pytest.fixture
def real_providers(settings, twilio_backend_settings, fcm_backend_settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    return settings


def test_incident_reaches_exactly_the_nearest_volunteers_and_acceptance_gets_a_role(
    dispatch_worker, reference_geography, real_providers, fake_twilio, fake_fcm, client
):
    DispatchPolicyFactory(push_receipt_timeout_s=120, escalate_after_s=600)
    app_users = [_volunteer_north_of_incident(step) for step in range(1, 13)]
    app_tokens = {DeviceFactory(volunteer=v).push_token for v in app_users}
    sms_users = [_volunteer_north_of_incident(step) for step in range(13, 21)]
    beyond_limit = [_volunteer_north_of_incident(step) for step in range(21, 24)]
    _volunteer_north_of_incident(2, is_available=False)
    _volunteer_north_of_incident(3, location_updated_at=timezone.now() - dt.timedelta(hours=3))
    aed = DefibrillatorFactory(
        location=point(AARHUS_C[0], AARHUS_C[1] + 0.0075), cabinet_code="4711", opening_hours="24/7"
    )

    client.force_login(DispatcherFactory())
    response = client.post(
        reverse("amk:incident_create"),
        {"location": f"{AARHUS_C[1]}, {AARHUS_C[0]}", "address": ADDRESS},
    )
    assert response.status_code == 302
    incident = Incident.objects.get()

    pushes = fake_fcm.wait_for_messages(12, timeout=20)
    texts = fake_twilio.wait_for_messages(8, timeout=20)
    assert {push.token for push in pushes} == app_tokens
    assert {sms.to for sms in texts} == {str(v.phone) for v in sms_users}
    assert all(push.android["priority"] == "high" for push in pushes)
    assert all(push.data["incident_id"] == str(incident.pk) for push in pushes)
    assert all(ADDRESS not in sms.body and "JA" in sms.body for sms in texts)
    assert not Alert.objects.filter(volunteer__in=beyond_limit).exists()

    # The nearest SMS volunteer answers JA; Twilio forwards the reply, signed.
    responder = sms_users[0]
    url = "http://testserver/webhooks/twilio/inbound/"
    form = {"From": str(responder.phone), "Body": "Ja", "MessageSid": "SMreply"}
    response = client.post(url, form, HTTP_X_TWILIO_SIGNATURE=fake_twilio.sign(url, form))
    assert response.status_code == 200

    alert = Alert.objects.get(incident=incident, volunteer=responder)
    assert alert.state == Alert.State.ACCEPTED
    # The only acceptor is the first to reach the patient: straight there, no AED detour
    # (alerts.services.roles; the AED fetched by a second acceptor: tests/alerts/test_roles.py).
    assert (alert.role, alert.aed) == (Alert.Role.CPR, None)
    assert aed.alerts.count() == 0
    details = fake_twilio.wait_for_messages(9, timeout=20)[-1]
    assert details.to == str(responder.phone)
    assert ADDRESS in details.body
    assert "4711" not in details.body
    # Nothing went out twice.
    assert len(fake_fcm.messages) == 12
    assert AlertDelivery.objects.filter(alert__incident=incident).count() == 21

    # The dispatcher's live board shows the responder, the role and the AED.
    board = client.get(reverse("amk:incident_board", args=[incident.pk])).json()
    assert board["counts"]["accepted"] == 1
    row = next(r for r in board["alerts"] if r["id"] == alert.pk)
    assert row["state"] == "accepted"
    assert row["role"] == "cpr"


def test_an_sms_whose_answer_was_lost_is_reconciled_not_sent_twice(
    reference_geography, settings, twilio_backend_settings, fake_twilio
):
    """Twilio takes the message but answers after the client gave up: the retry finds it."""
    from alerts.models import AlertDelivery as Delivery
    from tests.factories import AlertDeliveryFactory, AlertFactory, IncidentFactory

    settings.TWILIO_TIMEOUT_S = 0.5
    fake_twilio.faults.delay_s = 1.5
    incident = IncidentFactory(state=Incident.State.DISPATCHING)
    alert = AlertFactory(incident=incident, volunteer=VolunteerFactory())
    delivery = AlertDeliveryFactory(alert=alert, channel=Delivery.Channel.SMS)

    assert delivery_send(delivery_id=delivery.pk) is not None  # timed out: retry due
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
    assert delivery.outcome_unknown_since
    [taken] = fake_twilio.wait_for_messages(1, timeout=5)
    fake_twilio.faults.delay_s = 0
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    assert delivery_send(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT
    assert delivery.provider_message_id == taken.sid
    assert len(fake_twilio.messages) == 1
