"""Things end (issue 12, point 3): unanswered alerts expire, incidents left open close
themselves, and after the end the address is revealed to nobody. Against real PostGIS; the
sweep (run by beat) is called directly, queued work captured."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert, AlertDelivery
from alerts.services import answers, lifecycle, sweep
from amk.models import Incident, IncidentEvent
from config.exceptions import ApplicationError
from tests.delivery import delivery_send
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    DispatchPolicyFactory,
    IncidentFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")

Channel, Kind, DState = AlertDelivery.Channel, AlertDelivery.Kind, AlertDelivery.State


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """What the sweep queues is recorded, not sent."""
    queued: list[tuple[str, dict]] = []
    for name in (
        "incident_dispatch_enqueue",
        "deliveries_send_enqueue",
        "alerts_sms_fallback_enqueue",
        "incident_escalate_enqueue",
    ):
        monkeypatch.setattr(sweep, name, lambda _n=name, **kw: queued.append((_n, kw)))
    return queued


def aged(obj, **delta) -> None:
    """Make a row's created_at lie in the past."""
    type(obj).objects.filter(pk=obj.pk).update(created_at=timezone.now() - dt.timedelta(**delta))
    obj.refresh_from_db()


def incident_with_policy(**policy) -> Incident:
    """A dispatching incident with its own copy of the policy (as incident_create makes)."""
    from alerts.selectors.policy import dispatch_policy_snapshot

    snapshot = dispatch_policy_snapshot(DispatchPolicyFactory.build(**policy))
    return IncidentFactory(
        state=Incident.State.DISPATCHING,
        dispatch_wave=1,
        dispatch_radius_m=5000,
        dispatch_policy=snapshot,
    )


def waiting_alert(incident, *, minutes_old: float, state=Alert.State.SENT, channel=Channel.SMS):
    alert = AlertFactory(incident=incident, state=state)
    AlertDeliveryFactory(alert=alert, channel=channel, state=DState.PENDING, attempts=3)
    aged(alert, minutes=minutes_old)
    return alert


# --- Expiry -----------------------------------------------------------------------------------


def test_the_sweep_expires_unanswered_alerts_past_their_validity_in_one_timeline_entry(
    django_capture_on_commit_callbacks,
):
    incident = incident_with_policy(alert_valid_s=600)
    old = [waiting_alert(incident, minutes_old=11, state=s) for s in Alert.WAITING_STATES]
    fresh = waiting_alert(incident, minutes_old=9)
    accepted = AlertFactory(incident=incident, state=Alert.State.ACCEPTED, role="cpr")
    aged(accepted, minutes=30)

    with django_capture_on_commit_callbacks(execute=True):
        summary = sweep.sweep()

    assert summary["expired"] == 3
    states = dict(Alert.objects.values_list("pk", "state"))
    assert {states[a.pk] for a in old} == {Alert.State.EXPIRED}
    assert states[fresh.pk] == Alert.State.SENT
    assert states[accepted.pk] == Alert.State.ACCEPTED
    # The alert messages of expired alerts stop: no more retries.
    for alert in old:
        delivery = AlertDelivery.objects.get(alert=alert)
        assert delivery.state == DState.FAILED
        assert delivery.last_error == lifecycle.EXPIRED_DELIVERY_ERROR
    assert AlertDelivery.objects.get(alert=fresh).state == DState.PENDING
    # One entry for the batch, not one line per volunteer.
    [event] = IncidentEvent.objects.filter(incident=incident, kind="alert_expired")
    assert event.alert_id is None
    assert event.message == "3 alarmer udløb ubesvaret efter 10 min"

    # Again: nothing more.
    assert sweep.sweep()["expired"] == 0
    assert IncidentEvent.objects.filter(kind="alert_expired").count() == 1


def test_each_incident_expires_its_alerts_by_its_own_validity():
    short = incident_with_policy(alert_valid_s=120)
    long = incident_with_policy(alert_valid_s=1800)
    quick = waiting_alert(short, minutes_old=3)
    patient = waiting_alert(long, minutes_old=20)

    sweep.sweep()

    assert Alert.objects.get(pk=quick.pk).state == Alert.State.EXPIRED
    assert Alert.objects.get(pk=patient.pk).state == Alert.State.SENT


def test_an_alert_sms_is_not_retried_after_its_alert_expired():
    incident = incident_with_policy(alert_valid_s=600)
    # The sweep has not come by yet: the engine itself finds the alert past its validity.
    alert = waiting_alert(incident, minutes_old=10.5)
    delivery = AlertDelivery.objects.get(alert=alert)
    AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    assert delivery_send(delivery_id=delivery.pk) is None  # no retry scheduled

    delivery.refresh_from_db()
    assert delivery.state == DState.FAILED
    assert delivery.last_error == "no longer relevant"


def test_an_alert_sms_still_valid_keeps_trying():
    incident = incident_with_policy(alert_valid_s=600)
    alert = waiting_alert(incident, minutes_old=5)
    delivery = AlertDelivery.objects.get(alert=alert)
    AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    delivery_send(delivery_id=delivery.pk)  # the outbox backend takes it

    assert AlertDelivery.objects.get(pk=delivery.pk).state == DState.SENT


@pytest.mark.parametrize("swept", [True, False], ids=["expired", "past-validity-not-yet-swept"])
def test_accepting_too_late_is_refused_as_expired(swept, django_capture_on_commit_callbacks):
    incident = incident_with_policy(alert_valid_s=600)
    alert = waiting_alert(incident, minutes_old=12)
    if swept:
        sweep.sweep()

    with pytest.raises(ApplicationError) as refused:
        answers.alert_accept(alert_id=alert.pk, volunteer=alert.volunteer)

    assert refused.value.code == "expired"
    alert.refresh_from_db()
    assert alert.role == ""
    assert alert.state == (Alert.State.EXPIRED if swept else Alert.State.SENT)
    assert not AlertDelivery.objects.filter(alert=alert, kind=Kind.DETAILS).exists()


def test_the_api_answers_a_late_accept_with_409_and_no_address():
    incident = incident_with_policy(alert_valid_s=600)
    alert = waiting_alert(incident, minutes_old=11)
    sweep.sweep()
    api = APIClient()
    api.force_authenticate(alert.volunteer.user)

    response = api.post(f"/api/v1/alerts/{alert.pk}/accept/")

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "For sent: alarmen er udløbet, og andre er blevet alarmeret."
    )
    detail = api.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert detail["state"] == "expired"
    assert detail["assignment"] is None


# --- Automatic close --------------------------------------------------------------------------


def test_an_incident_left_open_closes_itself_with_the_closing_message(
    django_capture_on_commit_callbacks,
):
    incident = incident_with_policy(auto_close_after_s=3600)
    aged(incident, minutes=61)
    responder = AlertFactory(incident=incident, state=Alert.State.ON_SCENE, role="cpr")
    AlertDeliveryFactory(alert=responder, channel=Channel.SMS, state=DState.SENT)
    younger = incident_with_policy(auto_close_after_s=3600)
    aged(younger, minutes=59)
    own_time = incident_with_policy(auto_close_after_s=7200)
    aged(own_time, minutes=61)

    with django_capture_on_commit_callbacks(execute=False):
        summary = sweep.sweep()

    assert summary["closed"] == 1
    incident.refresh_from_db()
    assert incident.state == Incident.State.CLOSED
    assert incident.closed_at is not None
    event = IncidentEvent.objects.get(incident=incident, kind="auto_closed")
    assert event.message == "Lukket automatisk efter 60 min"
    assert event.actor is None
    assert not IncidentEvent.objects.filter(incident=incident, kind="closed").exists()
    # The close, not the cancel: the responder is released with thanks, by the channel used.
    assert Alert.objects.get(pk=responder.pk).state == Alert.State.RELEASED
    assert AlertDelivery.objects.filter(alert=responder, kind=Kind.STAND_DOWN).exists()
    for still_open in (younger, own_time):
        still_open.refresh_from_db()
        assert still_open.is_open

    # Beat runs again: nothing more happens.
    with django_capture_on_commit_callbacks(execute=False):
        assert sweep.sweep()["closed"] == 0
    assert IncidentEvent.objects.filter(incident=incident, kind="auto_closed").count() == 1


def test_incidents_without_a_copy_close_by_the_policy_in_force():
    DispatchPolicyFactory(auto_close_after_s=1800)
    incident = IncidentFactory()
    aged(incident, minutes=31)

    assert lifecycle.incidents_auto_close(now=timezone.now(), fallback_after_s=1800) == 1
    assert Incident.objects.get(pk=incident.pk).state == Incident.State.CLOSED


def test_an_incident_already_ended_is_left_alone(django_capture_on_commit_callbacks):
    from amk.services.incidents import incident_cancel

    incident = incident_with_policy(auto_close_after_s=3600)
    aged(incident, minutes=90)
    with django_capture_on_commit_callbacks(execute=False):
        incident_cancel(incident_id=incident.pk, actor=incident.created_by)
        assert sweep.sweep()["closed"] == 0
    assert Incident.objects.get(pk=incident.pk).state == Incident.State.CANCELLED


# --- After the end, the address goes to nobody ------------------------------------------------


@pytest.mark.parametrize("ended", [Incident.State.CLOSED, Incident.State.CANCELLED])
def test_the_api_never_shows_the_address_of_an_ended_incident(ended):
    volunteer = VolunteerFactory()
    incident = IncidentFactory(state=Incident.State.DISPATCHING, address="Skovvejen 7")
    alert = AlertFactory(incident=incident, volunteer=volunteer, state=Alert.State.EN_ROUTE)
    api = APIClient()
    api.force_authenticate(volunteer.user)
    assert api.get(f"/api/v1/alerts/{alert.pk}/").json()["assignment"]["address"] == "Skovvejen 7"

    Incident.objects.filter(pk=incident.pk).update(state=ended, closed_at=timezone.now())

    listed = api.get("/api/v1/alerts/").json()
    detail = api.get(f"/api/v1/alerts/{alert.pk}/").json()
    for body in (listed, detail):
        assert "Skovvejen" not in str(body)
        assert str(incident.location.y) not in str(body)
    assert detail["assignment"] is None
    assert detail["incident_open"] is False


def test_no_sms_with_the_address_leaves_once_the_incident_has_ended():
    incident = IncidentFactory(state=Incident.State.DISPATCHING, address="Skovvejen 7")
    alert = AlertFactory(incident=incident, state=Alert.State.ACCEPTED, role="cpr")
    details = AlertDeliveryFactory(alert=alert, kind=Kind.DETAILS, state=DState.PENDING)
    # Ended between the acceptance and the send (the alert itself not yet stood down).
    Incident.objects.filter(pk=incident.pk).update(
        state=Incident.State.CLOSED, closed_at=timezone.now()
    )

    assert delivery_send(delivery_id=details.pk) is None

    details.refresh_from_db()
    assert details.state == DState.FAILED
    assert details.last_error == "no longer relevant"
    from alerts.models import OutboxMessage

    assert not OutboxMessage.objects.filter(body__contains="Skovvejen").exists()
