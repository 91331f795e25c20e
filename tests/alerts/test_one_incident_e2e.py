"""One responder, one incident, across the queue: a real Celery worker on Redis, PostGIS, the
console's own views, Twilio's real client against the fake, and the answer by signed SMS."""

import time

import pytest
from django.urls import reverse

from alerts.models import Alert
from amk.models import Incident
from tests.factories import AARHUS_C, DispatcherFactory, DispatchPolicyFactory, VolunteerFactory
from tests.factories import point as lonlat

pytestmark = pytest.mark.django_db(transaction=True)

INBOUND = "http://testserver/webhooks/twilio/inbound/"
FIRST_ADDRESS = "Frederiks Allé 112, 8000 Aarhus C"
SECOND_ADDRESS = "Frederiksgade 20, 8000 Aarhus C"


def wait_until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def create_incident(client, *, lat: float, address: str) -> Incident:
    response = client.post(
        reverse("amk:incident_create"), {"location": f"{lat}, {AARHUS_C[0]}", "address": address}
    )
    assert response.status_code == 302
    return Incident.objects.get(address=address)


def texts_to(fake_twilio, volunteer) -> list[str]:
    return [sms.body for sms in fake_twilio.messages.all() if sms.to == str(volunteer.phone)]


def test_a_responder_on_the_way_is_not_alerted_again_and_is_thanked_when_the_ambulance_arrives(
    dispatch_worker,
    reference_geography,
    settings,
    twilio_backend_settings,
    fcm_backend_settings,
    fake_twilio,
    client,
):
    settings.PUBLIC_BASE_URL = "http://testserver"
    DispatchPolicyFactory(push_receipt_timeout_s=600, escalate_after_s=600)
    # Two SMS volunteers, both near both incidents (about 100 and 200 m apart).
    responder = VolunteerFactory(location=lonlat(AARHUS_C[0], AARHUS_C[1] + 0.001))
    other = VolunteerFactory(location=lonlat(AARHUS_C[0], AARHUS_C[1] + 0.002))
    client.force_login(DispatcherFactory())

    first = create_incident(client, lat=AARHUS_C[1], address=FIRST_ADDRESS)
    wait_until(lambda: len(texts_to(fake_twilio, responder)) == 1)
    reference = Alert.objects.get(incident=first, volunteer=responder).pk
    form = {"From": str(responder.phone), "Body": f"JA {reference}", "MessageSid": "SM" + "1" * 32}
    answer = client.post(INBOUND, form, HTTP_X_TWILIO_SIGNATURE=fake_twilio.sign(INBOUND, form))
    assert answer.status_code == 200
    # The acceptance is answered by the details SMS (role and address), one message.
    wait_until(lambda: len(texts_to(fake_twilio, responder)) == 2)
    assert FIRST_ADDRESS.split(",")[0] in texts_to(fake_twilio, responder)[1]

    second = create_incident(client, lat=AARHUS_C[1] + 0.003, address=SECOND_ADDRESS)
    wait_until(lambda: Alert.objects.filter(incident=second).exists())
    wait_until(lambda: len(texts_to(fake_twilio, other)) == 2)  # alerted for both
    assert not Alert.objects.filter(incident=second, volunteer=responder).exists()
    assert Alert.objects.filter(incident=second, volunteer=other).exists()

    response = client.post(reverse("amk:incident_close", args=[first.pk]))
    assert response.status_code == 302
    wait_until(lambda: len(texts_to(fake_twilio, responder)) == 3)
    closing = texts_to(fake_twilio, responder)[2]
    assert "Ambulancen er fremme" in closing
    assert "afblæst" not in closing
    # Nobody was alerted twice, and the responder got exactly the three texts of their part.
    assert len(texts_to(fake_twilio, responder)) == 3
