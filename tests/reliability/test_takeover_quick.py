"""Quick (not slow): a sender that loses its database after the provider took the message.

Found by the slow database-restart test (2 duplicates in 180 deliveries): the provider accepted
the message, then the UPDATE to "sent" failed (PostgreSQL restarting, or the worker killed at
that instant). The row stays "sending"; once its lease runs out the sweep hands it to another
sender, which sends it again without asking the provider first. A take-over is an "outcome
unknown" as much as a read timeout is: the SMS should be looked up in Twilio's log, the push not
resent (the app's receipt and the SMS fallback cover it).
"""

import pytest
from django.db import OperationalError
from django.utils import timezone

from alerts.channels.base import SmsMessage, get_sms_backend
from alerts.messages import message_texts
from alerts.models import AlertDelivery
from alerts.services import deliveries, sending
from amk.models import Incident
from tests.delivery import delivery_send
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    DeviceFactory,
    IncidentFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db


def _lose_the_database_once(monkeypatch):
    sent = deliveries._deliveries_sent
    calls = {"n": 0}

    def deliveries_sent(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return sent(*args, **kwargs)

    monkeypatch.setattr(deliveries, "_deliveries_sent", deliveries_sent)


def _lease_expired(delivery: AlertDelivery) -> None:
    assert AlertDelivery.objects.get(pk=delivery.pk).state == AlertDelivery.State.SENDING
    expired = timezone.now() - sending.sending_lease() - timezone.timedelta(seconds=1)
    AlertDelivery.objects.filter(pk=delivery.pk).update(updated_at=expired)


def _taken_over_after_the_lease(delivery: AlertDelivery) -> None:
    _lease_expired(delivery)
    assert delivery_send(delivery_id=delivery.pk) is None  # what the sweep's task does


def _alert(**volunteer):
    incident = IncidentFactory(state=Incident.State.DISPATCHING)
    return AlertFactory(incident=incident, volunteer=VolunteerFactory(**volunteer))


def test_an_sms_taken_over_after_a_lost_database_is_not_sent_twice(
    reference_geography, monkeypatch, twilio_backend_settings, fake_twilio
):
    delivery = AlertDeliveryFactory(alert=_alert(), channel=AlertDelivery.Channel.SMS)
    _lose_the_database_once(monkeypatch)
    with pytest.raises(OperationalError):
        delivery_send(delivery_id=delivery.pk)
    [taken] = fake_twilio.wait_for_messages(1, timeout=5)

    _taken_over_after_the_lease(delivery)

    delivery.refresh_from_db()
    assert delivery.state == AlertDelivery.State.SENT
    assert delivery.provider_message_id == taken.sid
    assert len(fake_twilio.messages) == 1


def test_a_push_taken_over_after_a_lost_database_shows_once(
    reference_geography, monkeypatch, fcm_backend_settings, fake_fcm
):
    alert = _alert()
    DeviceFactory(volunteer=alert.volunteer)
    delivery = AlertDeliveryFactory(alert=alert, channel=AlertDelivery.Channel.PUSH)
    _lose_the_database_once(monkeypatch)
    with pytest.raises(OperationalError):
        delivery_send(delivery_id=delivery.pk)
    fake_fcm.wait_for_messages(1, timeout=5)

    _taken_over_after_the_lease(delivery)

    delivery.refresh_from_db()
    assert delivery.state == AlertDelivery.State.SENT
    # FCM cannot be asked, so the push goes again, under the same collapse id: the phone
    # replaces the first notification with the second and shows the alert once.
    pushes = fake_fcm.wait_for_messages(2, timeout=5)
    assert len({push.apns["headers"]["apns-collapse-id"] for push in pushes}) == 1
    assert {push.android["notification"]["tag"] for push in pushes} == {f"alert-{alert.pk}-alert"}


def test_a_push_whose_sender_vanished_before_the_hand_over_is_sent_by_the_next(
    reference_geography, fcm_backend_settings, fake_fcm
):
    alert = _alert()
    DeviceFactory(volunteer=alert.volunteer)
    delivery = AlertDeliveryFactory(alert=alert, channel=AlertDelivery.Channel.PUSH)
    # Claimed, then the worker died before it called FCM.
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        state=AlertDelivery.State.SENDING, attempts=1
    )

    _taken_over_after_the_lease(delivery)

    delivery.refresh_from_db()
    assert delivery.state == AlertDelivery.State.SENT
    assert delivery.provider_message_id
    assert len(fake_fcm.wait_for_messages(1, timeout=5)) == 1


def test_reconciling_an_sms_ignores_the_sms_of_another_alert_to_the_same_number(
    reference_geography, monkeypatch, twilio_backend_settings, fake_twilio
):
    volunteer = VolunteerFactory()
    first = AlertDeliveryFactory(alert=_alert_for(volunteer), channel=AlertDelivery.Channel.SMS)
    assert delivery_send(delivery_id=first.pk) is None  # sent and recorded
    second = AlertDeliveryFactory(alert=_alert_for(volunteer), channel=AlertDelivery.Channel.SMS)
    # Its sender vanished after the hand-over, before Twilio had it: same number, same words.
    AlertDelivery.objects.filter(pk=second.pk).update(
        state=AlertDelivery.State.SENDING, attempts=1, handed_over_at=timezone.now()
    )

    _taken_over_after_the_lease(second)

    second.refresh_from_db()
    first.refresh_from_db()
    assert second.state == AlertDelivery.State.SENT
    assert second.provider_message_id != first.provider_message_id
    assert len(fake_twilio.messages) == 2


def test_alerts_to_one_number_taken_over_together_each_arrive_once(
    reference_geography, twilio_backend_settings, fake_twilio
):
    """Found by the slow worker-kill test (33 of 300 SMS lost): a worker killed mid-batch left
    several incidents' alerts to one number "outcome unknown", only the first had reached
    Twilio, and, the words being the same, each took that one message in the log for its own."""
    volunteer = VolunteerFactory()
    taken_over = [
        AlertDeliveryFactory(alert=_alert_for(volunteer), channel=AlertDelivery.Channel.SMS)
        for _ in range(3)
    ]
    first_body = message_texts(taken_over[0])[1]
    get_sms_backend().send(SmsMessage(to=str(volunteer.phone), body=first_body))
    AlertDelivery.objects.filter(pk__in=[d.pk for d in taken_over]).update(
        state=AlertDelivery.State.SENDING, attempts=1, handed_over_at=timezone.now()
    )
    for delivery in taken_over:
        _lease_expired(delivery)

    assert deliveries.deliveries_send(delivery_ids=[d.pk for d in taken_over]) == {}

    sids = set()
    for delivery in taken_over:
        delivery.refresh_from_db()
        assert delivery.state == AlertDelivery.State.SENT
        sids.add(delivery.provider_message_id)
    assert len(sids) == 3
    received = fake_twilio.wait_for_messages(3, timeout=5)
    assert len(received) == 3
    assert {m.body for m in received} == {message_texts(d)[1] for d in taken_over}
    assert received[0].sid in sids


def _alert_for(volunteer):
    incident = IncidentFactory(state=Incident.State.DISPATCHING)
    return AlertFactory(incident=incident, volunteer=volunteer, distance_m=500)
