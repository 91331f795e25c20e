"""Sending a wave's deliveries as one batch (alerts.services.deliveries_send), through the real
twilio and firebase-admin clients to the fake providers, concurrently as in a worker."""

import threading

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.channels.base import SmsBackend, TransientChannelError
from alerts.models import Alert, AlertDelivery
from alerts.services import deliveries, sending
from amk.models import Incident, IncidentEvent
from tests.factories import AlertDeliveryFactory, AlertFactory, DeviceFactory, IncidentFactory

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")

Channel, State = AlertDelivery.Channel, AlertDelivery.State


@pytest.fixture
def providers(twilio_backend_settings, fcm_backend_settings, fake_twilio, fake_fcm):
    return fake_twilio, fake_fcm


def _wave(n_sms: int, n_push: int = 0) -> list[AlertDelivery]:
    incident = IncidentFactory(state=Incident.State.DISPATCHING)
    wave = []
    for i in range(n_sms + n_push):
        alert = AlertFactory(incident=incident)
        channel = Channel.SMS if i < n_sms else Channel.PUSH
        if channel == Channel.PUSH:
            DeviceFactory(volunteer=alert.volunteer)
        wave.append(AlertDeliveryFactory(alert=alert, channel=channel))
    return wave


def _ids(wave) -> list[int]:
    return [d.pk for d in wave]


def _expire_lease(wave) -> None:
    expired = timezone.now() - sending.sending_lease() - timezone.timedelta(seconds=1)
    AlertDelivery.objects.filter(pk__in=_ids(wave)).update(updated_at=expired)


@pytest.mark.django_db
def test_a_wave_goes_out_together_and_each_delivery_keeps_its_own_message_id(providers):
    fake_twilio, fake_fcm = providers
    wave = _wave(12, 8)

    assert deliveries.deliveries_send(delivery_ids=_ids(wave)) == {}

    texts = fake_twilio.wait_for_messages(12)
    fake_fcm.wait_for_messages(8)
    sid_to = {sms.sid: sms.to for sms in texts}
    for d in AlertDelivery.objects.filter(channel=Channel.SMS).select_related("alert__volunteer"):
        # Sent concurrently: each row has the id of the message to its own number.
        assert d.state == State.SENT
        assert sid_to[d.provider_message_id] == str(d.alert.volunteer.phone)
        assert d.handed_over_at is not None
        assert d.attempts == 1
    assert set(AlertDelivery.objects.values_list("state", flat=True)) == {State.SENT}
    assert set(Alert.objects.values_list("state", flat=True)) == {Alert.State.SENT}
    assert IncidentEvent.objects.filter(kind="alert_sent").count() == 20
    assert len(fake_twilio.messages) == 12
    assert len(fake_fcm.messages) == 8


@pytest.mark.django_db
def test_a_batch_costs_the_same_few_queries_whatever_its_size(providers):
    def queries(n: int) -> int:
        wave = _wave(n, n)
        with CaptureQueriesContext(connection) as captured:
            deliveries.deliveries_send(delivery_ids=_ids(wave))
        return len(captured)

    assert queries(2) == queries(10) <= 12


@pytest.mark.django_db
def test_one_provider_failure_in_a_batch_leaves_the_others_alone(providers):
    fake_twilio, fake_fcm = providers
    wave = _wave(4, 3)
    invalid, dead_token = wave[1], wave[5]
    fake_twilio.invalid_numbers.add(str(invalid.alert.volunteer.phone))
    device = dead_token.alert.volunteer.devices.get()
    fake_fcm.unregistered_tokens.add(device.push_token)

    assert deliveries.deliveries_send(delivery_ids=_ids(wave)) == {}

    states = dict(AlertDelivery.objects.filter(pk__in=_ids(wave)).values_list("pk", "state"))
    assert states.pop(invalid.pk) == State.FAILED
    assert states.pop(dead_token.pk) == State.FAILED
    assert set(states.values()) == {State.SENT}
    assert Alert.objects.get(pk=invalid.alert_id).state == Alert.State.FAILED
    device.refresh_from_db()
    assert not device.is_active
    # The dead push falls back to SMS, queued as a batch of its own.
    assert AlertDelivery.objects.get(alert=dead_token.alert, channel=Channel.SMS).state == (
        State.PENDING
    )
    assert len(fake_twilio.messages) == 3
    assert len(fake_fcm.messages) == 2


class OneNumberOverloaded(SmsBackend):
    """Twilio answers 503 for one number only (the outbox-like sequential path)."""

    number = ""
    sent: list[str] = []

    def send(self, message):
        if message.to == self.number:
            raise TransientChannelError("Twilio overloaded", status=503)
        self.sent.append(message.to)
        return f"SM{len(self.sent)}"


@pytest.mark.django_db
def test_a_transient_error_retries_that_delivery_only(settings):
    settings.SMS_BACKEND = f"{__name__}.OneNumberOverloaded"
    wave = _wave(3)
    OneNumberOverloaded.number = str(wave[0].alert.volunteer.phone)
    OneNumberOverloaded.sent = []

    retries = deliveries.deliveries_send(delivery_ids=_ids(wave))

    assert retries == {wave[0].pk: 2}
    wave[0].refresh_from_db()
    assert wave[0].state == State.PENDING
    assert wave[0].handed_over_at is None
    assert wave[0].next_attempt_at > timezone.now()
    assert set(
        AlertDelivery.objects.filter(pk__in=_ids(wave[1:])).values_list("state", flat=True)
    ) == {State.SENT}


@pytest.mark.django_db
def test_a_batch_whose_worker_died_after_sending_is_taken_over_without_double_sends(
    providers, monkeypatch
):
    """The providers took every message; the worker died before recording any of them."""
    fake_twilio, fake_fcm = providers
    wave = _wave(5, 3)
    recorded = deliveries._deliveries_sent

    def killed(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(deliveries, "_deliveries_sent", killed)
    with pytest.raises(OperationalError):
        deliveries.deliveries_send(delivery_ids=_ids(wave))
    taken = {sms.to: sms.sid for sms in fake_twilio.wait_for_messages(5)}
    fake_fcm.wait_for_messages(3)
    monkeypatch.setattr(deliveries, "_deliveries_sent", recorded)

    # Within the lease nobody else may touch them (a duplicate task, the sweep).
    assert deliveries.deliveries_send(delivery_ids=_ids(wave)) == {}
    assert set(AlertDelivery.objects.values_list("state", flat=True)) == {State.SENDING}

    _expire_lease(wave)
    assert deliveries.deliveries_send(delivery_ids=_ids(wave)) == {}

    for d in AlertDelivery.objects.select_related("alert__volunteer"):
        assert d.state == State.SENT
        assert d.attempts == 2
        assert d.outcome_unknown_since
        if d.channel == Channel.SMS:  # found in Twilio's log, not sent again
            assert d.provider_message_id == taken[str(d.alert.volunteer.phone)]
    assert len(fake_twilio.messages) == 5
    # Pushes cannot be looked up: sent again under the same collapse id, shown once.
    pushes = fake_fcm.wait_for_messages(6)
    collapse_ids = [push.android["notification"]["tag"] for push in pushes]
    assert len(set(collapse_ids)) == 3
    assert all(collapse_ids.count(c) == 2 for c in collapse_ids)


@pytest.mark.django_db
def test_a_batch_whose_worker_died_before_the_hand_over_is_sent_once_by_the_next(providers):
    fake_twilio, _ = providers
    wave = _wave(4)
    AlertDelivery.objects.filter(pk__in=_ids(wave)).update(state=State.SENDING, attempts=1)
    _expire_lease(wave)

    assert deliveries.deliveries_send(delivery_ids=_ids(wave)) == {}

    assert set(AlertDelivery.objects.values_list("state", flat=True)) == {State.SENT}
    assert not AlertDelivery.objects.filter(outcome_unknown_since__isnull=False).exists()
    assert len(fake_twilio.wait_for_messages(4)) == 4


@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_at_the_same_moment_send_each_delivery_once(providers):
    """A duplicate task and the sweep's batch race: each row is claimed by one of them."""
    fake_twilio, _ = providers
    wave = _wave(16)
    ids = _ids(wave)
    start = threading.Barrier(3)
    errors = []

    def send(batch):
        try:
            start.wait()
            deliveries.deliveries_send(delivery_ids=batch)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send, args=(batch,))
        for batch in (ids[:12], list(reversed(ids[4:])), ids[::2])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert set(AlertDelivery.objects.values_list("state", flat=True)) == {State.SENT}
    assert set(AlertDelivery.objects.values_list("attempts", flat=True)) == {1}
    assert len(fake_twilio.wait_for_messages(16)) == 16


@pytest.mark.django_db
def test_the_dispatch_task_sends_the_first_wave_itself_without_another_hop(providers, monkeypatch):
    from alerts.tasks import incident_dispatch_task
    from config.celery import app
    from tests.factories import AARHUS_C, VolunteerFactory, point

    fake_twilio, fake_fcm = providers
    queued = []
    send_task = app.send_task

    def recorded(name, *args, **kwargs):  # alerts.enqueue queues every task by name
        if name == "alerts.tasks.deliveries_send_task":
            return queued.append(kwargs.get("args"))
        return send_task(name, *args, **kwargs)

    monkeypatch.setattr(app, "send_task", recorded)
    volunteers = [
        VolunteerFactory(location=point(AARHUS_C[0], AARHUS_C[1] + 0.001 * i)) for i in range(4)
    ]
    DeviceFactory(volunteer=volunteers[0])
    incident = IncidentFactory(location=point(*AARHUS_C))

    incident_dispatch_task(incident.pk)

    assert queued == []
    assert AlertDelivery.objects.filter(alert__incident=incident).count() == 4
    assert set(AlertDelivery.objects.values_list("state", flat=True)) == {State.SENT}
    assert len(fake_twilio.messages) == 3
    assert len(fake_fcm.messages) == 1
