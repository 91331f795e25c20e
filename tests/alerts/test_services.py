"""Dispatch workflows (alerts.services, amk.services lifecycle) against real PostGIS.

Provider errors come from tiny test backends below (doubles of Twilio/FCM, not of our code);
queued work is captured with django_capture_on_commit_callbacks(execute=False) and the
services are called directly.
"""

import ast
import datetime as dt
import json

import pytest
import redis
from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.channels.base import (
    OutcomeUnknownError,
    PermanentChannelError,
    PushBackend,
    SmsBackend,
    TransientChannelError,
    UnregisteredTokenError,
)
from alerts.messages import message_texts
from alerts.models import Alert, AlertDelivery, OutboxMessage
from alerts.services import answers, deliveries, sweep, waves
from amk.models import Incident, IncidentEvent
from amk.services.incidents import incident_cancel, incident_close
from config.exceptions import ApplicationError
from tests.delivery import delivery_send
from tests.factories import (
    AARHUS_C,
    AlertDeliveryFactory,
    AlertFactory,
    DefibrillatorFactory,
    DeviceFactory,
    DispatchPolicyFactory,
    IncidentFactory,
    LocalAreaFactory,
    UserFactory,
    VolunteerFactory,
    point,
)

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")

METRES_PER_DEGREE_LAT = 111_320
Channel, Kind = AlertDelivery.Channel, AlertDelivery.Kind


def north(metres: float):
    return point(AARHUS_C[0], AARHUS_C[1] + metres / METRES_PER_DEGREE_LAT)


def south(metres: float):
    return north(-metres)


# --- Provider doubles -------------------------------------------------------------------------


class TransientSms(SmsBackend):
    def send(self, message):
        raise TransientChannelError("Twilio overloaded", status=503)


class PermanentSms(SmsBackend):
    def send(self, message):
        raise PermanentChannelError("Twilio refused the message", status=400, code=21211)


class TransientPush(PushBackend):
    def send(self, message):
        raise TransientChannelError("FCM unavailable", status=503)


class PermanentPush(PushBackend):
    def send(self, message):
        raise PermanentChannelError("FCM refused the message", status=400)


class UnregisteredPush(PushBackend):
    def send(self, message):
        raise UnregisteredTokenError("FCM: token unregistered", status=404, code="UNREGISTERED")


def backend(cls) -> str:
    return f"{__name__}.{cls.__name__}"


# --- Helpers ----------------------------------------------------------------------------------


@pytest.fixture
def incident(db):
    return IncidentFactory(
        state=Incident.State.DISPATCHING, dispatch_wave=1, dispatch_radius_m=5000
    )


@pytest.fixture
def dispatcher(db):
    return UserFactory()


def make_alert(incident, volunteer=None, *, pool=Alert.Pool.APP, channels=(Channel.SMS,), **kw):
    alert = AlertFactory(
        incident=incident, volunteer=volunteer or VolunteerFactory(), pool=pool, **kw
    )
    # Past "queued", the alert's messages went out.
    sent = alert.state != Alert.State.QUEUED
    for channel in channels:
        AlertDeliveryFactory(
            alert=alert,
            channel=channel,
            state=AlertDelivery.State.SENT if sent else AlertDelivery.State.PENDING,
        )
    return alert


def delivery(alert, channel=Channel.SMS, kind=Kind.ALERT) -> AlertDelivery:
    return AlertDelivery.objects.get(alert=alert, channel=channel, kind=kind)


def deliveries_of(alert) -> set[tuple[str, str]]:
    return set(AlertDelivery.objects.filter(alert=alert).values_list("channel", "kind"))


def make_due(d: AlertDelivery) -> None:
    AlertDelivery.objects.filter(pk=d.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )


def refreshed(obj):
    obj.refresh_from_db()
    return obj


# --- incident_dispatch ------------------------------------------------------------------------


def test_dispatch_alerts_by_push_with_a_device_and_by_sms_without(
    django_capture_on_commit_callbacks,
):
    incident = IncidentFactory()
    with_app = DeviceFactory(volunteer=VolunteerFactory(location=north(1000))).volunteer
    without_app = VolunteerFactory(location=north(2000))
    stale_device = DeviceFactory(volunteer=VolunteerFactory(location=north(2500)), is_active=False)
    corps = DeviceFactory(volunteer=VolunteerFactory(local_area=LocalAreaFactory())).volunteer

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        to_send = waves.incident_dispatch(incident_id=incident.pk)

    alerts = {a.volunteer_id: a for a in Alert.objects.filter(incident=incident)}
    assert set(alerts) == {with_app.pk, without_app.pk, stale_device.volunteer_id, corps.pk}
    assert deliveries_of(alerts[with_app.pk]) == {(Channel.PUSH, Kind.ALERT)}
    assert deliveries_of(alerts[without_app.pk]) == {(Channel.SMS, Kind.ALERT)}
    assert deliveries_of(alerts[stale_device.volunteer_id]) == {(Channel.SMS, Kind.ALERT)}
    assert deliveries_of(alerts[corps.pk]) == {
        (Channel.PUSH, Kind.ALERT),
        (Channel.SMS, Kind.ALERT),
    }
    assert alerts[corps.pk].pool == Alert.Pool.CORPS
    assert all(a.state == Alert.State.QUEUED and a.wave == 1 for a in alerts.values())
    # The dispatch task sends the wave itself once committed; only the timers are queued.
    assert sorted(to_send) == sorted(
        AlertDelivery.objects.filter(alert__incident=incident).values_list("pk", flat=True)
    )
    assert len(callbacks) == 1  # the fallback/escalation timers

    incident.refresh_from_db()
    assert incident.state == Incident.State.DISPATCHING
    assert (incident.dispatch_wave, incident.dispatch_radius_m) == (1, 5000)
    assert incident.last_wave_at is not None
    assert IncidentEvent.objects.filter(incident=incident, kind="wave").count() == 1


def test_dispatch_twice_creates_nothing_new(django_capture_on_commit_callbacks):
    incident = IncidentFactory()
    VolunteerFactory(location=north(1000))
    waves.incident_dispatch(incident_id=incident.pk)
    VolunteerFactory(location=north(1500))  # would qualify if a second wave were sent

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert waves.incident_dispatch(incident_id=incident.pk) == []

    assert Alert.objects.filter(incident=incident).count() == 1
    assert AlertDelivery.objects.filter(alert__incident=incident).count() == 1
    assert IncidentEvent.objects.filter(incident=incident, kind="wave").count() == 1
    assert callbacks == []


def test_dispatch_of_an_excluded_incident_alerts_nobody_and_makes_it_active(
    django_capture_on_commit_callbacks,
):
    incident = IncidentFactory(exclusion_reasons=[Incident.Exclusion.UNSAFE_SCENE])
    VolunteerFactory(location=north(500))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        waves.incident_dispatch(incident_id=incident.pk)

    assert not Alert.objects.filter(incident=incident).exists()
    assert refreshed(incident).state == Incident.State.ACTIVE
    assert callbacks == []


# --- delivery_send ----------------------------------------------------------------------------


def test_send_sms_once_marks_it_sent_with_the_provider_id(incident):
    alert = make_alert(incident, channels=[Channel.SMS])
    d = delivery(alert)

    assert delivery_send(delivery_id=d.pk) is None
    assert delivery_send(delivery_id=d.pk) is None  # a duplicate task

    [message] = OutboxMessage.objects.all()
    assert message.channel == Channel.SMS
    assert message.recipient == str(alert.volunteer.phone)
    d.refresh_from_db()
    assert d.state == AlertDelivery.State.SENT
    assert d.provider_message_id == message.provider_message_id
    assert d.attempts == 1
    assert d.sent_at is not None
    assert refreshed(alert).state == Alert.State.SENT


def test_alert_sms_carries_the_policy_validity(incident):
    DispatchPolicyFactory(sms_validity_s=300)
    d = delivery(make_alert(incident, channels=[Channel.SMS]))

    delivery_send(delivery_id=d.pk)

    assert OutboxMessage.objects.get().data["validity_s"] == 300


def test_send_push_to_the_volunteers_active_device(incident):
    device = DeviceFactory()
    DeviceFactory(volunteer=device.volunteer, is_active=False)
    alert = make_alert(incident, device.volunteer, channels=[Channel.PUSH])

    delivery_send(delivery_id=delivery(alert, Channel.PUSH).pk)

    [message] = OutboxMessage.objects.all()
    assert (message.channel, message.recipient) == (Channel.PUSH, device.push_token)
    assert message.data["data"]["alert_id"] == str(alert.pk)
    assert refreshed(alert).state == Alert.State.SENT


def test_an_alert_for_a_cancelled_incident_is_not_sent():
    incident = IncidentFactory(state=Incident.State.CANCELLED, closed_at=timezone.now())
    d = delivery(make_alert(incident, channels=[Channel.SMS]))

    delivery_send(delivery_id=d.pk)

    assert not OutboxMessage.objects.exists()
    assert refreshed(d).state == AlertDelivery.State.FAILED


def test_an_alert_already_declined_is_not_sent(incident):
    d = delivery(make_alert(incident, channels=[Channel.SMS], state=Alert.State.DECLINED))

    delivery_send(delivery_id=d.pk)

    assert not OutboxMessage.objects.exists()


def test_a_stand_down_for_a_cancelled_incident_is_sent():
    incident = IncidentFactory(state=Incident.State.CANCELLED, closed_at=timezone.now())
    alert = make_alert(incident, channels=[], state=Alert.State.CANCELLED)
    d = AlertDeliveryFactory(alert=alert, channel=Channel.SMS, kind=Kind.STAND_DOWN)

    delivery_send(delivery_id=d.pk)

    assert OutboxMessage.objects.count() == 1
    assert refreshed(d).state == AlertDelivery.State.SENT


def test_transient_error_puts_it_back_with_a_growing_delay(incident, settings):
    settings.SMS_BACKEND = backend(TransientSms)
    d = delivery(make_alert(incident, channels=[Channel.SMS]))

    before = timezone.now()
    first = delivery_send(delivery_id=d.pk)
    d.refresh_from_db()
    assert d.state == AlertDelivery.State.PENDING
    assert d.next_attempt_at > before
    assert "overloaded" in d.last_error

    assert delivery_send(delivery_id=d.pk) is None  # not due yet: nothing happens
    assert refreshed(d).attempts == 1

    make_due(d)
    second = delivery_send(delivery_id=d.pk)
    assert first is not None
    assert second is not None
    assert second > first
    assert refreshed(d).attempts == 2


def test_push_that_keeps_failing_transiently_gives_up_and_falls_back_to_sms(
    incident, settings, django_capture_on_commit_callbacks
):
    settings.PUSH_BACKEND = backend(TransientPush)
    alert = make_alert(incident, DeviceFactory().volunteer, channels=[Channel.PUSH])
    push = delivery(alert, Channel.PUSH)

    for _ in range(deliveries.MAX_SEND_ATTEMPTS):
        make_due(push)
        delivery_send(delivery_id=push.pk)

    push.refresh_from_db()
    assert push.state == AlertDelivery.State.FAILED
    assert push.attempts == deliveries.MAX_SEND_ATTEMPTS
    assert delivery(alert, Channel.SMS).state == AlertDelivery.State.PENDING


def test_permanent_push_error_fails_it_and_creates_an_sms_fallback(
    incident, settings, django_capture_on_commit_callbacks
):
    settings.PUSH_BACKEND = backend(PermanentPush)
    alert = make_alert(incident, DeviceFactory().volunteer, channels=[Channel.PUSH])
    push = delivery(alert, Channel.PUSH)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert delivery_send(delivery_id=push.pk) is None

    assert refreshed(push).state == AlertDelivery.State.FAILED
    sms = delivery(alert, Channel.SMS)
    assert (sms.state, sms.attempts) == (AlertDelivery.State.PENDING, 0)
    assert len(callbacks) == 1  # the fallback SMS is queued
    assert refreshed(alert).state == Alert.State.QUEUED  # not failed: SMS is still to go


def test_push_without_an_active_device_falls_back_to_sms(incident):
    device = DeviceFactory()
    alert = make_alert(incident, device.volunteer, channels=[Channel.PUSH])
    device.is_active = False
    device.save()

    delivery_send(delivery_id=delivery(alert, Channel.PUSH).pk)

    assert delivery(alert, Channel.PUSH).state == AlertDelivery.State.FAILED
    assert delivery(alert, Channel.SMS).state == AlertDelivery.State.PENDING
    assert not OutboxMessage.objects.exists()


def test_unregistered_push_token_deactivates_the_device_and_falls_back(incident, settings):
    settings.PUSH_BACKEND = backend(UnregisteredPush)
    device = DeviceFactory()
    alert = make_alert(incident, device.volunteer, channels=[Channel.PUSH])

    delivery_send(delivery_id=delivery(alert, Channel.PUSH).pk)

    assert refreshed(device).is_active is False
    assert delivery(alert, Channel.PUSH).state == AlertDelivery.State.FAILED
    assert delivery(alert, Channel.SMS).state == AlertDelivery.State.PENDING


def test_alert_fails_when_its_only_channel_fails_permanently(incident, settings):
    settings.SMS_BACKEND = backend(PermanentSms)
    alert = make_alert(incident, channels=[Channel.SMS])

    delivery_send(delivery_id=delivery(alert).pk)

    assert "21211" in delivery(alert).last_error
    assert refreshed(alert).state == Alert.State.FAILED


# --- Push → SMS fallback ----------------------------------------------------------------------


def pushed_alert(incident):
    """An app alert whose push has gone out (sent, not yet confirmed by the app)."""
    alert = make_alert(incident, DeviceFactory().volunteer, channels=[Channel.PUSH])
    delivery_send(delivery_id=delivery(alert, Channel.PUSH).pk)
    assert delivery(alert, Channel.PUSH).state == AlertDelivery.State.SENT
    return alert


def test_sms_fallback_goes_to_unconfirmed_push_alerts_only(incident):
    DispatchPolicyFactory(push_receipt_timeout_s=0)
    unconfirmed = pushed_alert(incident)
    confirmed = pushed_alert(incident)
    sms_only = make_alert(incident, channels=[Channel.SMS])
    answers.alert_confirm_receipt(alert_id=confirmed.pk, volunteer=confirmed.volunteer)

    assert waves.alerts_sms_fallback(incident_id=incident.pk) == 1

    assert deliveries_of(unconfirmed) == {(Channel.PUSH, Kind.ALERT), (Channel.SMS, Kind.ALERT)}
    assert deliveries_of(confirmed) == {(Channel.PUSH, Kind.ALERT)}
    assert deliveries_of(sms_only) == {(Channel.SMS, Kind.ALERT)}
    assert refreshed(confirmed).state == Alert.State.DELIVERED
    assert delivery(confirmed, Channel.PUSH).state == AlertDelivery.State.DELIVERED


def test_sms_fallback_is_not_created_twice(incident):
    DispatchPolicyFactory(push_receipt_timeout_s=0)
    alert = pushed_alert(incident)

    assert waves.alerts_sms_fallback(incident_id=incident.pk) == 1
    assert waves.alerts_sms_fallback(incident_id=incident.pk) == 0
    assert AlertDelivery.objects.filter(alert=alert, channel=Channel.SMS).count() == 1


def test_sms_fallback_waits_for_the_push_receipt_timeout(incident):
    DispatchPolicyFactory(push_receipt_timeout_s=30)
    alert = pushed_alert(incident)

    assert waves.alerts_sms_fallback(incident_id=incident.pk) == 0

    Alert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - dt.timedelta(seconds=31))
    assert waves.alerts_sms_fallback(incident_id=incident.pk) == 1


# --- alert_accept: roles and AEDs -------------------------------------------------------------


def accept(alert, **kw):
    return answers.alert_accept(alert_id=alert.pk, volunteer=alert.volunteer, **kw)


def responder(incident, metres_north=1000, **kw):
    return make_alert(incident, VolunteerFactory(location=north(metres_north)), **kw)


def test_acceptor_fetches_an_available_aed_on_the_way(incident):
    someone_doing_cpr(incident)
    aed = DefibrillatorFactory(location=north(500))
    alert = responder(incident)

    accepted = accept(alert)

    assert (accepted.state, accepted.role, accepted.aed) == (Alert.State.ACCEPTED, "aed", aed)
    stored = refreshed(alert)
    assert (stored.state, stored.role, stored.aed_id) == (Alert.State.ACCEPTED, "aed", aed.pk)
    assert stored.answered_at is not None
    assert IncidentEvent.objects.filter(incident=incident, kind="aed_claimed").exists()


@pytest.mark.parametrize(
    "aed_kw",
    [
        {"opening_hours": "off"},
        {"opening_hours": "Mo-Su 00:00-00:00; PH off; off"},
        {"status": "inactive"},
        {"location": south(1800)},  # detour ≈ 1800 + 1800 + 1000 - 1000 > 1500
    ],
    ids=["closed-by-opening-hours", "closed-always", "inactive", "detour-too-long"],
)
def test_acceptor_goes_straight_to_the_patient_when_the_aed_cannot_be_used(incident, aed_kw):
    DefibrillatorFactory(**{"location": north(500), **aed_kw})

    accepted = accept(responder(incident))

    assert (accepted.role, accepted.aed) == (Alert.Role.CPR, None)


def someone_doing_cpr(incident):
    """A responder on scene: the next acceptors may fetch AEDs (the first to reach the patient
    always goes straight there: alerts.services.roles)."""
    AlertFactory(
        incident=incident,
        volunteer=VolunteerFactory(location=north(10)),
        state=Alert.State.ON_SCENE,
        role=Alert.Role.CPR,
        answered_at=timezone.now(),
    )


def test_two_acceptors_never_get_the_same_aed(incident):
    someone_doing_cpr(incident)
    aed = DefibrillatorFactory(location=north(500))
    first, second = responder(incident), responder(incident, 1100)

    assert accept(first).aed == aed
    assert (accept(second).role, refreshed(second).aed_id) == (Alert.Role.CPR, None)


def test_the_database_refuses_one_aed_for_two_alerts_of_an_incident(incident):
    aed = DefibrillatorFactory()
    AlertFactory(incident=incident, role=Alert.Role.AED, aed=aed, state=Alert.State.ACCEPTED)
    with (
        pytest.raises(IntegrityError, match="alert_aed_claimed_once_per_incident"),
        transaction.atomic(),
    ):
        AlertFactory(incident=incident, role=Alert.Role.AED, aed=aed, state=Alert.State.ACCEPTED)


def test_a_second_fetcher_only_when_the_aed_arrives_sooner_through_them(incident):
    someone_doing_cpr(incident)
    DefibrillatorFactory(location=north(500))
    DefibrillatorFactory(location=north(600))
    first, second = responder(incident), responder(incident, 1100)

    assert accept(first).role == Alert.Role.AED
    assert accept(second).role == Alert.Role.CPR


def test_a_located_corps_member_gets_the_aed_that_arrives_soonest_own_or_public(incident):
    someone_doing_cpr(incident)
    local_aed = DefibrillatorFactory(location=south(300))  # 1.3 km + 0.3 km
    public = DefibrillatorFactory(location=north(500))  # on the way: 1 km
    area = LocalAreaFactory()
    area.local_aeds.add(local_aed)
    member = VolunteerFactory(local_area=area, location=north(1000))
    alert = make_alert(incident, member, pool=Alert.Pool.CORPS)

    assert accept(alert).aed == public
    assert local_aed.alerts.count() == 0


def test_a_corps_member_without_a_position_is_sent_to_their_own_aed(incident):
    local_aed = DefibrillatorFactory(location=south(300))
    DefibrillatorFactory(location=north(100))
    area = LocalAreaFactory()
    area.local_aeds.add(local_aed)
    member = VolunteerFactory(local_area=area, location=None, location_updated_at=None)

    assert accept(make_alert(incident, member, pool=Alert.Pool.CORPS)).aed == local_aed


def test_an_app_volunteer_without_a_fresh_position_is_not_sent_for_an_aed(incident):
    DefibrillatorFactory(location=north(100))
    volunteer = VolunteerFactory(
        location=north(500), location_updated_at=timezone.now() - dt.timedelta(hours=2)
    )

    assert accept(make_alert(incident, volunteer)).role == Alert.Role.CPR


def test_reaching_the_target_releases_the_waiting_alerts_and_activates_the_incident(
    incident, django_capture_on_commit_callbacks
):
    DispatchPolicyFactory(target_accepted=1)
    acceptor = responder(incident)
    by_push = make_alert(
        incident, DeviceFactory().volunteer, channels=[Channel.PUSH], state=Alert.State.SENT
    )
    by_sms = make_alert(incident, channels=[Channel.SMS], state=Alert.State.SENT)
    push_failed = make_alert(incident, channels=[Channel.PUSH, Channel.SMS], state=Alert.State.SENT)
    AlertDelivery.objects.filter(alert=push_failed, channel=Channel.PUSH).update(
        state=AlertDelivery.State.FAILED
    )
    declined = make_alert(incident, state=Alert.State.DECLINED)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        accept(acceptor)

    for alert in (by_push, by_sms, push_failed):
        assert refreshed(alert).state == Alert.State.RELEASED
    assert refreshed(declined).state == Alert.State.DECLINED
    release = set(
        AlertDelivery.objects.filter(kind=Kind.RELEASE).values_list("alert_id", "channel")
    )
    assert release == {
        (by_push.pk, Channel.PUSH),
        (by_sms.pk, Channel.SMS),
        (push_failed.pk, Channel.SMS),
    }
    assert refreshed(incident).state == Incident.State.ACTIVE
    assert len(callbacks) == 1


def test_below_the_target_nobody_is_released(incident):
    DispatchPolicyFactory(target_accepted=2)
    waiting = make_alert(incident)

    accept(responder(incident))

    assert refreshed(waiting).state == Alert.State.QUEUED
    assert refreshed(incident).state == Incident.State.DISPATCHING


def test_accepting_twice_is_idempotent(incident):
    DefibrillatorFactory(location=north(500))
    alert = responder(incident)
    first = accept(alert)
    events = IncidentEvent.objects.count()

    second = accept(refreshed(alert))

    assert (second.state, second.role, second.aed_id) == (first.state, first.role, first.aed_id)
    assert refreshed(alert).answered_at == first.answered_at
    assert IncidentEvent.objects.count() == events


def test_accepting_after_cancel_is_refused_and_assigns_nothing(incident, dispatcher):
    DefibrillatorFactory(location=north(500))
    alert = responder(incident)
    incident_cancel(incident_id=incident.pk, actor=dispatcher)

    with pytest.raises(ApplicationError) as error:
        accept(alert)

    assert error.value.code == "ended"
    stored = refreshed(alert)
    assert (stored.state, stored.role, stored.aed_id) == (Alert.State.CANCELLED, "", None)


def test_accepting_after_moving_out_of_range_is_refused(incident):
    DispatchPolicyFactory(acceptance_max_distance_m=12_000)
    alert = responder(incident, metres_north=12_500)

    with pytest.raises(ApplicationError) as error:
        accept(alert)

    assert error.value.code == "out_of_range"
    assert refreshed(alert).state == Alert.State.QUEUED


def test_a_far_but_stale_position_does_not_block_acceptance(incident):
    volunteer = VolunteerFactory(
        location=north(20_000), location_updated_at=timezone.now() - dt.timedelta(hours=3)
    )

    assert accept(make_alert(incident, volunteer)).state == Alert.State.ACCEPTED


def test_accepting_another_volunteers_alert_is_not_found(incident):
    alert = responder(incident)

    with pytest.raises(ApplicationError) as error:
        answers.alert_accept(alert_id=alert.pk, volunteer=VolunteerFactory())

    assert error.value.code == "not_found"
    assert refreshed(alert).state == Alert.State.QUEUED


def test_decline_records_the_answer(incident):
    alert = responder(incident)

    answers.alert_decline(alert_id=alert.pk, volunteer=alert.volunteer)
    answers.alert_decline(alert_id=alert.pk, volunteer=alert.volunteer)  # repeated tap

    stored = refreshed(alert)
    assert stored.state == Alert.State.DECLINED
    assert stored.answered_at is not None
    assert IncidentEvent.objects.filter(alert=alert, kind="alert_declined").count() == 1


def test_an_accepted_alert_cannot_be_declined_nor_a_declined_one_accepted(incident):
    accepted, declined = responder(incident), responder(incident)
    accept(accepted)
    answers.alert_decline(alert_id=declined.pk, volunteer=declined.volunteer)

    with pytest.raises(ApplicationError) as error:
        answers.alert_decline(alert_id=accepted.pk, volunteer=accepted.volunteer)
    assert error.value.code == "not_open"
    with pytest.raises(ApplicationError) as error:
        accept(declined)
    assert error.value.code == "not_open"


# --- alert_progress ---------------------------------------------------------------------------


def progress(alert, state):
    return answers.alert_progress(alert_id=alert.pk, volunteer=alert.volunteer, state=state)


def test_progress_through_valid_steps(incident):
    someone_doing_cpr(incident)
    DefibrillatorFactory(location=north(500))
    alert = responder(incident)
    accept(alert)

    for step in ("en_route", "aed_collected", "on_scene"):
        assert progress(alert, step).state == step
    assert refreshed(alert).state == Alert.State.ON_SCENE


def test_aed_collected_is_refused_without_an_aed_role(incident):
    alert = responder(incident)
    assert accept(alert).role == Alert.Role.CPR

    with pytest.raises(ApplicationError) as error:
        progress(alert, "aed_collected")

    assert error.value.field == "state"
    assert refreshed(alert).state == Alert.State.ACCEPTED


@pytest.mark.parametrize("step", ["accepted", "declined", "nonsense"])
def test_unknown_progress_steps_are_refused(incident, step):
    alert = responder(incident)
    accept(alert)

    with pytest.raises(ApplicationError) as error:
        progress(alert, step)

    assert error.value.code == "invalid"
    assert refreshed(alert).state == Alert.State.ACCEPTED


def test_progress_cannot_go_backwards_or_start_before_acceptance(incident):
    alert = responder(incident)
    with pytest.raises(ApplicationError):
        progress(alert, "en_route")  # not accepted yet

    accept(alert)
    progress(alert, "on_scene")
    with pytest.raises(ApplicationError):
        progress(alert, "en_route")
    assert refreshed(alert).state == Alert.State.ON_SCENE


# --- Escalation -------------------------------------------------------------------------------


@pytest.fixture
def dispatched(db):
    """An incident after its first wave (5 km), with volunteers waiting at 6 km and 9 km, under
    a policy of three waves (the model's default is one)."""
    DispatchPolicyFactory(max_waves=3)
    incident = IncidentFactory()
    first = VolunteerFactory(location=north(1000))
    waves.incident_dispatch(incident_id=incident.pk)
    at_6km = VolunteerFactory(location=north(6000))
    VolunteerFactory(location=north(9000))
    assert list(Alert.objects.values_list("volunteer_id", flat=True)) == [first.pk]
    return refreshed(incident), first, at_6km


def test_escalation_sends_a_wider_second_wave_to_those_not_yet_alerted(dispatched):
    incident, first, at_6km = dispatched

    assert waves.incident_escalate(incident_id=incident.pk, after_wave=1) is True

    wave_of = dict(Alert.objects.filter(incident=incident).values_list("volunteer_id", "wave"))
    assert wave_of == {first.pk: 1, at_6km.pk: 2}
    incident.refresh_from_db()
    assert (incident.dispatch_wave, incident.dispatch_radius_m) == (2, 7500)
    assert IncidentEvent.objects.filter(incident=incident, kind="wave").count() == 2


def test_later_waves_leave_out_the_corps(dispatched):
    incident, _, at_6km = dispatched
    area = LocalAreaFactory()
    corps = VolunteerFactory(local_area=area, location=None, location_updated_at=None)

    waves.incident_escalate(incident_id=incident.pk, after_wave=1)

    assert not Alert.objects.filter(volunteer=corps).exists()
    assert Alert.objects.filter(volunteer=at_6km, wave=2).exists()


def test_escalation_does_nothing_when_the_target_is_reached(dispatched):
    incident, first, _ = dispatched
    DispatchPolicyFactory(target_accepted=1)
    Alert.objects.filter(volunteer=first).update(state=Alert.State.ACCEPTED)

    assert waves.incident_escalate(incident_id=incident.pk, after_wave=1) is False
    assert Alert.objects.filter(incident=incident).count() == 1


def test_a_repeated_or_late_escalation_check_does_nothing(dispatched):
    incident, *_ = dispatched
    assert waves.incident_escalate(incident_id=incident.pk, after_wave=1) is True
    VolunteerFactory(location=north(7000))

    assert waves.incident_escalate(incident_id=incident.pk, after_wave=1) is False
    assert refreshed(incident).dispatch_wave == 2
    assert Alert.objects.filter(incident=incident).count() == 2


def test_escalation_stops_at_the_maximum_number_of_waves(dispatched):
    incident, *_ = dispatched
    DispatchPolicyFactory(max_waves=1)

    assert waves.incident_escalate(incident_id=incident.pk, after_wave=1) is False
    assert Alert.objects.filter(incident=incident).count() == 1


def test_escalation_does_nothing_for_an_ended_incident(dispatched, dispatcher):
    incident, *_ = dispatched
    incident_cancel(incident_id=incident.pk, actor=dispatcher)

    assert waves.incident_escalate(incident_id=incident.pk, after_wave=1) is False
    assert waves.incident_escalate(incident_id=incident.pk, actor=dispatcher) is False
    assert Alert.objects.filter(incident=incident).count() == 1


def test_a_dispatcher_requested_wave_is_always_sent(dispatched, dispatcher):
    incident, first, at_6km = dispatched
    DispatchPolicyFactory(max_waves=1, target_accepted=1)
    Alert.objects.filter(volunteer=first).update(state=Alert.State.ACCEPTED)

    assert waves.incident_escalate(incident_id=incident.pk, actor=dispatcher) is True

    assert Alert.objects.filter(volunteer=at_6km, wave=2).exists()
    event = IncidentEvent.objects.get(incident=incident, kind="wave_requested")
    assert event.actor == dispatcher


def test_escalation_radius_is_capped_at_the_maximum(dispatched):
    incident, *_ = dispatched
    DispatchPolicyFactory(radius_m=5000, radius_step_m=2500, max_radius_m=6000)

    waves.incident_escalate(incident_id=incident.pk, after_wave=1)

    assert refreshed(incident).dispatch_radius_m == 6000


# --- Cancel and close -------------------------------------------------------------------------


def test_cancel_stands_down_live_alerts_on_the_channels_used(incident, dispatcher):
    app = make_alert(incident, channels=[Channel.PUSH], state=Alert.State.SENT)
    corps = make_alert(
        incident,
        pool=Alert.Pool.CORPS,
        channels=[Channel.PUSH, Channel.SMS],
        state=Alert.State.DELIVERED,
    )
    accepted = make_alert(incident, channels=[Channel.SMS], state=Alert.State.EN_ROUTE)
    push_failed = make_alert(incident, channels=[Channel.PUSH, Channel.SMS], state=Alert.State.SENT)
    AlertDelivery.objects.filter(alert=push_failed, channel=Channel.PUSH).update(
        state=AlertDelivery.State.FAILED
    )
    declined = make_alert(incident, channels=[Channel.SMS], state=Alert.State.DECLINED)

    incident_cancel(incident_id=incident.pk, actor=dispatcher)

    for alert in (app, corps, accepted, push_failed):
        assert refreshed(alert).state == Alert.State.CANCELLED
    assert refreshed(declined).state == Alert.State.DECLINED
    stand_downs = set(
        AlertDelivery.objects.filter(kind=Kind.STAND_DOWN).values_list("alert_id", "channel")
    )
    assert stand_downs == {
        (app.pk, Channel.PUSH),
        (corps.pk, Channel.PUSH),
        (corps.pk, Channel.SMS),
        (accepted.pk, Channel.SMS),
        (push_failed.pk, Channel.SMS),
    }
    incident.refresh_from_db()
    assert incident.state == Incident.State.CANCELLED
    assert incident.closed_at is not None
    assert IncidentEvent.objects.get(incident=incident, kind="cancelled").actor == dispatcher


def test_cancelling_twice_is_refused(incident, dispatcher):
    incident_cancel(incident_id=incident.pk, actor=dispatcher)

    with pytest.raises(ApplicationError) as error:
        incident_cancel(incident_id=incident.pk, actor=dispatcher)

    assert error.value.code == "ended"
    assert IncidentEvent.objects.filter(incident=incident, kind="cancelled").count() == 1


def test_close_releases_the_responders(incident, dispatcher):
    on_scene = make_alert(incident, state=Alert.State.ON_SCENE)
    waiting = make_alert(incident, state=Alert.State.SENT)

    incident_close(incident_id=incident.pk, actor=dispatcher)

    assert refreshed(on_scene).state == Alert.State.RELEASED
    assert refreshed(waiting).state == Alert.State.RELEASED
    assert AlertDelivery.objects.filter(kind=Kind.STAND_DOWN).count() == 2
    incident.refresh_from_db()
    assert incident.state == Incident.State.CLOSED
    assert incident.closed_at is not None


# --- Message texts ------------------------------------------------------------


def test_alert_texts_carry_no_address_but_the_details_do(incident):
    incident.address = "Klostergade 12, 8000 Aarhus C"
    incident.save()
    alert = make_alert(incident, channels=[Channel.SMS, Channel.PUSH])

    for channel in (Channel.SMS, Channel.PUSH):
        title, body = message_texts(delivery(alert, channel))
        assert "Klostergade" not in title + body
    _, sms_body = message_texts(delivery(alert))
    assert "Aarhus" in sms_body  # the municipality, no more

    details = AlertDeliveryFactory(alert=alert, kind=Kind.DETAILS)
    assert "Klostergade 12" in message_texts(details)[1]


def test_every_sms_names_its_alert_in_danish_and_a_push_does_not(incident):
    alert = make_alert(incident, channels=[Channel.SMS, Channel.PUSH])

    others = [AlertDeliveryFactory(alert=alert, kind=k) for k in Kind if k != Kind.ALERT]
    for sms in (delivery(alert, Channel.SMS), *others):
        assert message_texts(sms)[1].endswith(f"(alarm {alert.pk})")
    assert f"{alert.pk}" not in message_texts(delivery(alert, Channel.PUSH))[1]


# --- Sweep ------------------------------------------------------------------------------------


@pytest.fixture
def celery_queue():
    """The real broker (Redis db 15 in tests): read what was queued, flush it afterwards."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.delete("celery")
    yield client
    client.flushdb()


def queued_tasks(client) -> set[tuple[str, tuple]]:
    tasks = set()
    for raw in client.lrange("celery", 0, -1):
        headers = json.loads(raw)["headers"]
        args = ast.literal_eval(headers["argsrepr"])
        # A batch of deliveries, in whatever order: a tuple of sorted ids.
        args = tuple(tuple(sorted(a)) if isinstance(a, list) else a for a in args)
        tasks.add((headers["task"].rsplit(".", 1)[1], args))
    return tasks


def test_sweep_requeues_forgotten_incidents_and_deliveries(celery_queue):
    now = timezone.now()
    forgotten = IncidentFactory()
    Incident.objects.filter(pk=forgotten.pk).update(created_at=now - dt.timedelta(seconds=10))
    IncidentFactory()  # just created: its own enqueue is still on the way
    dispatching = IncidentFactory(
        state=Incident.State.DISPATCHING,
        dispatch_wave=1,
        last_wave_at=now - dt.timedelta(minutes=5),
    )
    stale = AlertDeliveryFactory(alert__incident=dispatching)
    AlertDelivery.objects.filter(pk=stale.pk).update(next_attempt_at=now - dt.timedelta(seconds=10))
    stuck = AlertDeliveryFactory(alert__incident=dispatching)
    AlertDelivery.objects.filter(pk=stuck.pk).update(
        state=AlertDelivery.State.SENDING, updated_at=now - dt.timedelta(minutes=2)
    )
    retry_later = AlertDeliveryFactory(alert__incident=dispatching)
    AlertDelivery.objects.filter(pk=retry_later.pk).update(
        next_attempt_at=now + dt.timedelta(seconds=30)
    )

    summary = sweep.sweep()

    assert summary == {"incidents": 1, "deliveries": 2, "dispatching": 1, "expired": 0, "closed": 0}
    assert queued_tasks(celery_queue) == {
        ("incident_dispatch_task", (forgotten.pk,)),
        ("deliveries_send_task", (tuple(sorted([stale.pk, stuck.pk])),)),
        ("alerts_sms_fallback_task", (dispatching.pk,)),
        ("incident_escalate_task", (dispatching.pk, 1)),
    }


# --- Defects found by these tests, fixed -------------------------------------------------------


def test_an_aed_given_up_by_a_withdrawing_responder_can_be_claimed_again(incident):
    someone_doing_cpr(incident)
    aed = DefibrillatorFactory(location=north(500))
    first, second = responder(incident), responder(incident, 1100)
    assert accept(first).aed == aed
    progress(first, "released")  # drops out before collecting the AED

    assert accept(second).aed == aed


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _waiting_on_locks(pids) -> int:
    """How many of these database sessions are waiting for a lock."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid = ANY(%s)",
            [list(pids)],
        )
        return cursor.fetchone()[0]


def _wait_until(predicate, timeout_s=10.0):
    import time

    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the lock queue")
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("answer", [answers.alert_accept, answers.alert_decline])
def test_an_answer_and_a_cancel_at_the_same_moment_both_complete(reference_geography, answer):
    import threading

    from django.db import connection

    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    alert = AlertFactory(incident=incident, volunteer=VolunteerFactory(location=north(1000)))
    dispatcher = UserFactory()
    release, locked, errors, pids = threading.Event(), threading.Event(), {}, {}

    def run(name, work):
        try:
            pids[name] = _backend_pid()
            work()
        except Exception as error:  # recorded for the assertion below
            errors[name] = error
        finally:
            connection.close()

    def hold_incident():
        with transaction.atomic():
            Incident.objects.select_for_update().get(pk=incident.pk)
            locked.set()
            release.wait(10)

    threads = {
        "holder": hold_incident,
        "cancel": lambda: incident_cancel(incident_id=incident.pk, actor=dispatcher),
        "answer": lambda: answer(alert_id=alert.pk, volunteer=alert.volunteer),
    }
    threads = {
        name: threading.Thread(target=run, args=(name, work)) for name, work in threads.items()
    }
    try:
        threads["holder"].start()
        assert locked.wait(10)
        threads["cancel"].start()  # the dispatcher's cancel queues for the incident first …
        _wait_until(lambda: "cancel" in pids and _waiting_on_locks([pids["cancel"]]) == 1)
        threads["answer"].start()  # … then the volunteer's answer
        _wait_until(lambda: "answer" in pids and _waiting_on_locks(pids.values()) == 2)
    finally:
        release.set()
        for thread in threads.values():
            if thread.is_alive() or thread.ident:
                thread.join(30)

    # The cancel queued first and wins; the answer then waits its turn and is told the alert
    # is over, instead of PostgreSQL aborting one of them as a deadlock.
    assert "cancel" not in errors
    assert isinstance(errors.get("answer"), ApplicationError)
    assert errors["answer"].code in {"ended", "not_open"}
    assert Incident.objects.get(pk=incident.pk).state == Incident.State.CANCELLED
    assert Alert.objects.get(pk=alert.pk).state == Alert.State.CANCELLED


def test_a_dispatcher_can_recruit_again_after_the_target_was_reached(dispatched, dispatcher):
    incident, first, at_6km = dispatched
    DispatchPolicyFactory(target_accepted=1)
    answers.alert_accept(alert_id=Alert.objects.get(volunteer=first).pk, volunteer=first)
    assert refreshed(incident).state == Incident.State.ACTIVE
    assert waves.incident_escalate(incident_id=incident.pk, after_wave=1) is False

    assert waves.incident_escalate(incident_id=incident.pk, actor=dispatcher) is True

    assert refreshed(incident).state == Incident.State.DISPATCHING
    assert Alert.objects.filter(volunteer=at_6km, wave=2).exists()


def test_no_wave_is_sent_where_volunteers_were_deliberately_not_activated(dispatcher):
    incident = IncidentFactory(exclusion_reasons=[Incident.Exclusion.UNSAFE_SCENE])
    waves.incident_dispatch(incident_id=incident.pk)
    VolunteerFactory(location=north(500))

    assert waves.incident_escalate(incident_id=incident.pk, actor=dispatcher) is False
    assert not Alert.objects.filter(incident=incident).exists()


def test_no_stand_down_reaches_someone_whose_alert_never_went_out(incident, dispatcher):
    sent = make_alert(incident, channels=[Channel.SMS], state=Alert.State.SENT)
    AlertDelivery.objects.filter(alert=sent).update(state=AlertDelivery.State.SENT)
    never_sent = make_alert(incident, channels=[Channel.SMS])

    incident_cancel(incident_id=incident.pk, actor=dispatcher)

    stand_downs = AlertDelivery.objects.filter(kind=Kind.STAND_DOWN)
    assert list(stand_downs.values_list("alert_id", flat=True)) == [sent.pk]
    assert refreshed(never_sent).state == Alert.State.CANCELLED


# --- Lost answers and persistence -----------------------------------------------------------


def test_an_alert_sms_keeps_trying_while_the_alert_matters(incident, settings):
    settings.SMS_BACKEND = backend(TransientSms)
    d = delivery(make_alert(incident, channels=[Channel.SMS]))

    for _ in range(deliveries.MAX_SEND_ATTEMPTS + 3):
        make_due(d)
        assert delivery_send(delivery_id=d.pk) <= deliveries.MAX_BACKOFF_S

    assert refreshed(d).state == AlertDelivery.State.PENDING
    assert refreshed(d).attempts == deliveries.MAX_SEND_ATTEMPTS + 3


class SlowPush(PushBackend):
    def send(self, message):
        raise OutcomeUnknownError("FCM did not answer in time")


def test_a_push_whose_answer_was_lost_is_tried_again(incident, settings):
    """Its collapse id makes a second copy replace the first on the phone (see test_channels)."""
    settings.PUSH_BACKEND = backend(SlowPush)
    alert = make_alert(incident, DeviceFactory().volunteer, channels=[Channel.PUSH])
    push = delivery(alert, Channel.PUSH)

    assert delivery_send(delivery_id=push.pk) is not None

    push.refresh_from_db()
    assert push.state == AlertDelivery.State.PENDING
    assert push.outcome_unknown_since
