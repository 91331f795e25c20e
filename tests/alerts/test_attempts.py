"""The attempt history (AlertDeliveryAttempt): one row per hand-over of a delivery to its
provider, written by the delivery engine, through the real twilio and firebase-admin clients
to the fake providers; shown in the admin and on the dispatcher's board."""

import datetime as dt

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from alerts.models import AlertDelivery, AlertDeliveryAttempt
from alerts.services import deliveries, sending
from amk.console.board import incident_board
from amk.models import Incident
from tests.delivery import delivery_send
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    DeviceFactory,
    IncidentFactory,
    UserFactory,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("reference_geography", "fresh_backends"),
]

Outcome = AlertDeliveryAttempt.Outcome


def _delivery(channel=AlertDelivery.Channel.SMS) -> AlertDelivery:
    alert = AlertFactory(incident=IncidentFactory(state=Incident.State.DISPATCHING))
    if channel == AlertDelivery.Channel.PUSH:
        DeviceFactory(volunteer=alert.volunteer)
    return AlertDeliveryFactory(alert=alert, channel=channel)


def _attempts(delivery: AlertDelivery) -> list[AlertDeliveryAttempt]:
    return list(AlertDeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))


def _make_due(delivery: AlertDelivery) -> None:
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )


@pytest.mark.parametrize("channel", [AlertDelivery.Channel.SMS, AlertDelivery.Channel.PUSH])
def test_a_successful_send_records_one_attempt_with_the_provider_id(
    channel, twilio_backend_settings, fcm_backend_settings, fake_twilio, fake_fcm
):
    delivery = _delivery(channel)

    assert delivery_send(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    [attempt] = _attempts(delivery)
    assert (attempt.number, attempt.outcome, attempt.error) == (1, Outcome.SENT, "")
    assert attempt.provider_message_id == delivery.provider_message_id != ""
    assert attempt.claimed_at <= attempt.handed_over_at <= attempt.finished_at
    assert attempt.handed_over_at == delivery.handed_over_at
    assert attempt.duration_ms is not None
    assert attempt.duration_ms >= 0


def test_a_transient_failure_then_a_success_records_two_attempts(
    twilio_backend_settings, fake_twilio
):
    delivery = _delivery()
    fake_twilio.faults.error_every = 1  # Twilio answers 503 to everything

    assert delivery_send(delivery_id=delivery.pk) is not None  # a retry is due

    fake_twilio.faults.error_every = 0
    _make_due(delivery)
    assert delivery_send(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    first, second = _attempts(delivery)
    assert (first.number, first.outcome, first.provider_message_id) == (
        1,
        Outcome.TRANSIENT_ERROR,
        "",
    )
    assert "HTTP 503" in first.error  # Twilio's own words
    assert first.finished_at is not None
    assert first.duration_ms is not None
    assert (second.number, second.outcome, second.error) == (2, Outcome.SENT, "")
    assert second.provider_message_id == delivery.provider_message_id
    assert second.handed_over_at > first.handed_over_at
    assert delivery.state == AlertDelivery.State.SENT
    assert delivery.attempts == 2


def test_a_permanent_failure_records_the_providers_refusal(twilio_backend_settings, fake_twilio):
    delivery = _delivery()
    fake_twilio.invalid_numbers.add(str(delivery.alert.volunteer.phone))

    assert delivery_send(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    [attempt] = _attempts(delivery)
    assert attempt.outcome == Outcome.PERMANENT_ERROR
    assert "code 21211" in attempt.error
    assert attempt.error in delivery.last_error
    assert delivery.state == AlertDelivery.State.FAILED


def test_a_delivery_that_never_reached_a_provider_has_no_attempt(fcm_backend_settings, fake_fcm):
    delivery = _delivery(AlertDelivery.Channel.PUSH)
    delivery.alert.volunteer.devices.update(is_active=False)  # no device: nothing handed over

    delivery_send(delivery_id=delivery.pk)

    assert AlertDelivery.objects.get(pk=delivery.pk).state == AlertDelivery.State.FAILED
    assert _attempts(delivery) == []


def test_a_takeover_after_a_lost_sender_is_outcome_unknown_then_reconciled(
    monkeypatch, twilio_backend_settings, fake_twilio
):
    """Twilio took the message; the sender lost its database before recording it."""
    delivery = _delivery()
    recorded = deliveries._deliveries_sent

    def lost(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(deliveries, "_deliveries_sent", lost)
    with pytest.raises(OperationalError):
        delivery_send(delivery_id=delivery.pk)
    [taken] = fake_twilio.wait_for_messages(1, timeout=5)
    monkeypatch.setattr(deliveries, "_deliveries_sent", recorded)
    [in_flight] = _attempts(delivery)
    assert (in_flight.outcome, in_flight.finished_at) == (Outcome.IN_FLIGHT, None)

    expired = timezone.now() - sending.sending_lease() - dt.timedelta(seconds=1)
    AlertDelivery.objects.filter(pk=delivery.pk).update(updated_at=expired)
    assert delivery_send(delivery_id=delivery.pk) is None  # what the sweep's task does

    delivery.refresh_from_db()
    lost_attempt, reconciled = _attempts(delivery)
    assert (lost_attempt.number, lost_attempt.outcome) == (1, Outcome.OUTCOME_UNKNOWN)
    assert "lost" in lost_attempt.error
    assert lost_attempt.finished_at is None
    assert (reconciled.number, reconciled.outcome) == (2, Outcome.RECONCILED)
    assert reconciled.provider_message_id == taken.sid == delivery.provider_message_id
    assert len(fake_twilio.messages) == 1


def test_a_lost_answer_is_outcome_unknown_then_found_in_the_providers_log(
    settings, twilio_backend_settings, fake_twilio
):
    settings.TWILIO_TIMEOUT_S = 0.5
    fake_twilio.faults.delay_s = 1.5
    delivery = _delivery()

    assert delivery_send(delivery_id=delivery.pk) is not None  # timed out: retry due
    [taken] = fake_twilio.wait_for_messages(1, timeout=5)
    fake_twilio.faults.delay_s = 0
    _make_due(delivery)
    assert delivery_send(delivery_id=delivery.pk) is None

    unknown, reconciled = _attempts(delivery)
    assert unknown.outcome == Outcome.OUTCOME_UNKNOWN
    assert unknown.error
    assert unknown.duration_ms >= 400
    assert (reconciled.outcome, reconciled.provider_message_id) == (Outcome.RECONCILED, taken.sid)


def test_a_batch_records_one_attempt_per_delivery(
    twilio_backend_settings, fcm_backend_settings, fake_twilio, fake_fcm
):
    batch = [_delivery() for _ in range(3)] + [_delivery(AlertDelivery.Channel.PUSH)]

    assert deliveries.deliveries_send(delivery_ids=[d.pk for d in batch]) == {}

    rows = AlertDeliveryAttempt.objects.filter(delivery__in=batch)
    assert sorted(rows.values_list("delivery_id", "number", "outcome")) == sorted(
        (d.pk, 1, Outcome.SENT) for d in batch
    )
    assert len({a.claimed_at for a in rows}) == 1  # claimed together


def test_the_board_shows_each_messages_attempts(twilio_backend_settings, fake_twilio):
    delivery = _delivery()
    fake_twilio.faults.error_every = 1
    delivery_send(delivery_id=delivery.pk)
    fake_twilio.faults.error_every = 0
    _make_due(delivery)
    delivery_send(delivery_id=delivery.pk)

    board = incident_board(incident_id=delivery.alert.incident_id)

    [row] = board["alerts"]
    [message] = row["deliveries"]
    assert [(a["number"], a["outcome"]) for a in message["attempts"]] == [
        (1, Outcome.TRANSIENT_ERROR),
        (2, Outcome.SENT),
    ]
    first, second = message["attempts"]
    assert set(first) == {
        "number",
        "handed_over_at",
        "handed_over_local",
        "outcome",
        "outcome_label",
        "duration_ms",
        "provider_message_id",
        "error",
    }
    assert first["error"]
    assert second["provider_message_id"]
    assert second["outcome_label"] == str(Outcome.SENT.label)  # in the dispatcher's language


def test_the_admin_shows_a_deliverys_attempts_read_only(client, twilio_backend_settings):
    delivery = _delivery()
    delivery_send(delivery_id=delivery.pk)
    attempt = AlertDeliveryAttempt.objects.get(delivery=delivery)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:alerts_alertdelivery_change", args=[delivery.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert attempt.provider_message_id in content
    assert str(Outcome.SENT.label) in content
    assert 'name="attempt_history-0-outcome"' not in content  # nothing to edit
