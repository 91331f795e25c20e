"""Twilio webhooks: signed status callbacks and SMS replies, through the real URL routes."""

import pytest
from django.urls import reverse
from twilio.request_validator import RequestValidator

from alerts.models import Alert, AlertDelivery, OutboxMessage
from amk.models import Incident, IncidentEvent
from tests.delivery import delivery_send
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    IncidentFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.usefixtures("reference_geography")

TOKEN = "test-twilio-auth-token"
Channel, Kind = AlertDelivery.Channel, AlertDelivery.Kind


@pytest.fixture(autouse=True)
def _twilio_token(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = ""


def post_signed(client, name, params, *, url=None, token=TOKEN):
    path = reverse(name)
    signature = RequestValidator(token).compute_signature(url or f"http://testserver{path}", params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.fixture
def sent_sms(db):
    """An SMS alert handed to the (outbox) provider: SENT, with the provider's message id."""
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    alert = AlertFactory(incident=incident)
    delivery = AlertDeliveryFactory(alert=alert, channel=Channel.SMS)
    delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == AlertDelivery.State.SENT
    assert delivery.provider_message_id == OutboxMessage.objects.get().provider_message_id
    return delivery


def status(delivery, value, **extra):
    return {"MessageSid": delivery.provider_message_id, "MessageStatus": value, **extra}


def test_unsigned_status_callback_is_refused_and_changes_nothing(client, sent_sms):
    response = client.post(reverse("twilio-status"), status(sent_sms, "delivered"))

    assert response.status_code == 403
    sent_sms.refresh_from_db()
    assert sent_sms.state == AlertDelivery.State.SENT
    assert sent_sms.alert.state == Alert.State.SENT


def test_forged_signature_is_refused(client, sent_sms):
    response = post_signed(client, "twilio-status", status(sent_sms, "delivered"), token="guess")

    assert response.status_code == 403
    sent_sms.refresh_from_db()
    assert sent_sms.state == AlertDelivery.State.SENT


def test_signature_over_other_parameters_is_refused(client, sent_sms):
    path = reverse("twilio-status")
    signature = RequestValidator(TOKEN).compute_signature(
        f"http://testserver{path}", status(sent_sms, "failed")
    )

    response = client.post(path, status(sent_sms, "delivered"), HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 403
    assert AlertDelivery.objects.get(pk=sent_sms.pk).state == AlertDelivery.State.SENT


def test_webhooks_are_refused_when_no_auth_token_is_configured(client, sent_sms, settings):
    settings.TWILIO_AUTH_TOKEN = ""

    response = post_signed(client, "twilio-status", status(sent_sms, "delivered"))

    assert response.status_code == 403


def test_get_is_not_allowed(client, db):
    assert client.get(reverse("twilio-status")).status_code == 405


def test_signed_delivered_callback_marks_delivery_and_alert_delivered(client, sent_sms):
    response = post_signed(client, "twilio-status", status(sent_sms, "delivered"))

    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.state == AlertDelivery.State.DELIVERED
    assert sent_sms.delivered_at is not None
    assert sent_sms.alert.state == Alert.State.DELIVERED


def test_signature_over_the_public_url_is_accepted_behind_a_proxy(client, sent_sms, settings):
    settings.PUBLIC_BASE_URL = "https://hjertealarm.example.dk/"
    params = status(sent_sms, "delivered")
    public = "https://hjertealarm.example.dk" + reverse("twilio-status")

    assert post_signed(client, "twilio-status", params).status_code == 403
    assert post_signed(client, "twilio-status", params, url=public).status_code == 204
    assert AlertDelivery.objects.get(pk=sent_sms.pk).state == AlertDelivery.State.DELIVERED


def test_replayed_callback_changes_nothing_the_second_time(client, sent_sms):
    params = status(sent_sms, "delivered")
    post_signed(client, "twilio-status", params)
    first = AlertDelivery.objects.get(pk=sent_sms.pk)
    events = IncidentEvent.objects.count()

    response = post_signed(client, "twilio-status", params)

    assert response.status_code == 204
    again = AlertDelivery.objects.get(pk=sent_sms.pk)
    assert (again.state, again.delivered_at, again.updated_at) == (
        first.state,
        first.delivered_at,
        first.updated_at,
    )
    assert IncidentEvent.objects.count() == events


def test_undelivered_sms_fails_the_delivery_and_its_only_channel_fails_the_alert(client, sent_sms):
    response = post_signed(
        client, "twilio-status", status(sent_sms, "undelivered", ErrorCode="30003")
    )

    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.state == AlertDelivery.State.FAILED
    assert "undelivered" in sent_sms.last_error
    assert "30003" in sent_sms.last_error
    assert sent_sms.alert.state == Alert.State.FAILED


def test_undelivered_sms_leaves_the_alert_alive_when_push_still_reaches_them(client, sent_sms):
    AlertDeliveryFactory(alert=sent_sms.alert, channel=Channel.PUSH)

    post_signed(client, "twilio-status", status(sent_sms, "undelivered"))

    sent_sms.refresh_from_db()
    assert sent_sms.state == AlertDelivery.State.FAILED
    assert sent_sms.alert.state == Alert.State.SENT


def test_intermediate_statuses_change_nothing(client, sent_sms):
    for value in ("queued", "sending", "sent"):
        assert post_signed(client, "twilio-status", status(sent_sms, value)).status_code == 204

    assert AlertDelivery.objects.get(pk=sent_sms.pk).state == AlertDelivery.State.SENT


@pytest.mark.parametrize(
    ("name", "params", "missing"),
    [
        ("twilio-status", {"MessageStatus": "delivered"}, "MessageSid"),
        ("twilio-status", {"MessageSid": "SM123"}, "MessageStatus"),
        ("twilio-inbound", {"Body": "JA", "MessageSid": "SM1"}, "From"),
        ("twilio-inbound", {"From": "+4520000000", "MessageSid": "SM1"}, "Body"),
        ("twilio-inbound", {"From": "+4520000000", "Body": "JA"}, "MessageSid"),
    ],
)
def test_missing_field_is_a_400_naming_the_field(client, db, name, params, missing):
    response = post_signed(client, name, params)

    assert response.status_code == 400
    assert list(response.json()) == [missing]


def test_signed_inbound_ja_accepts_the_alert(client, db):
    volunteer = VolunteerFactory()
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    alert = AlertFactory(incident=incident, volunteer=volunteer, state=Alert.State.SENT)
    AlertDeliveryFactory(alert=alert, channel=Channel.SMS)

    response = post_signed(
        client, "twilio-inbound", {"From": str(volunteer.phone), "Body": "JA", "MessageSid": "SM1"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACCEPTED
    assert AlertDelivery.objects.filter(
        alert=alert, channel=Channel.SMS, kind=Kind.DETAILS
    ).exists()


def test_unsigned_inbound_ja_is_refused(client, db):
    volunteer = VolunteerFactory()
    alert = AlertFactory(volunteer=volunteer, state=Alert.State.SENT)

    response = client.post(reverse("twilio-inbound"), {"From": str(volunteer.phone), "Body": "JA"})

    assert response.status_code == 403
    assert Alert.objects.get(pk=alert.pk).state == Alert.State.SENT
