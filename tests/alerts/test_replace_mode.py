"""Phased alerting as a policy choice (issue 12, point 4): replace mode keeps a set number of
alerts unanswered, replacing each decline, expiry and withdrawal with the next nearest eligible
volunteer within the maximum radius; automatic waves stop at the maximum, the dispatcher's
extra wave beyond it is labelled and stays within the maximum radius."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertDelivery
from alerts.selectors.policy import dispatch_policy_snapshot
from alerts.services import answers, sweep, waves
from amk.models import Incident, IncidentEvent
from tests.factories import (
    AARHUS_C,
    DispatchPolicyFactory,
    IncidentFactory,
    LocalAreaFactory,
    UserFactory,
    VolunteerFactory,
    point,
)

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")

METRES_PER_DEGREE_LAT = 111_320


def north(metres: float):
    return point(AARHUS_C[0], AARHUS_C[1] + metres / METRES_PER_DEGREE_LAT)


def pending_incident(**policy) -> Incident:
    """An incident pending dispatch with its own copy of the policy, as incident_create makes."""
    snapshot = dispatch_policy_snapshot(DispatchPolicyFactory.build(**policy))
    return IncidentFactory(dispatch_policy=snapshot)


REPLACE = {
    "mode": "replace",
    "outstanding_target": 3,
    "target_accepted": 2,
    "radius_m": 1000,
    "max_radius_m": 5000,
}


@pytest.fixture
def replace_incident(django_capture_on_commit_callbacks):
    """Seven app volunteers 1–7 km north and a corps member; the first wave dispatched."""
    incident = pending_incident(**REPLACE)
    app = [VolunteerFactory(location=north(km * 1000 - 200)) for km in range(1, 8)]
    corps = VolunteerFactory(local_area=LocalAreaFactory(), location=None, location_updated_at=None)
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=incident.pk)
    incident.refresh_from_db()
    return incident, app, corps


def alerted(incident) -> list[int]:
    return list(
        Alert.objects.filter(incident=incident)
        .order_by("pk")
        .values_list("volunteer_id", flat=True)
    )


def alert_of(incident, volunteer) -> Alert:
    return Alert.objects.get(incident=incident, volunteer=volunteer)


def unanswered_app(incident) -> int:
    return Alert.objects.filter(
        incident=incident, pool=Alert.Pool.APP, state__in=Alert.WAITING_STATES
    ).count()


def test_the_first_wave_alerts_the_outstanding_target_nearest_and_the_whole_corps(
    replace_incident,
):
    incident, app, corps = replace_incident

    assert set(alerted(incident)) == {corps.pk, *(v.pk for v in app[:3])}
    # Nearest first within the maximum radius, not the first radius (1 km held only one).
    assert incident.dispatch_radius_m == 5000
    assert unanswered_app(incident) == 3


def test_a_decline_is_replaced_by_the_next_nearest(
    replace_incident, django_capture_on_commit_callbacks
):
    incident, app, _ = replace_incident
    first = alert_of(incident, app[0])

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answers.alert_decline(alert_id=first.pk, volunteer=app[0])

    assert alerted(incident)[-1] == app[3].pk
    assert unanswered_app(incident) == 3
    replacement = alert_of(incident, app[3])
    assert AlertDelivery.objects.filter(alert=replacement, kind="alert").exists()
    event = IncidentEvent.objects.get(incident=incident, kind="replacements")
    assert event.message.startswith("1 frivillig alarmeret i stedet for dem, der ikke kom")
    assert len(callbacks) == 2  # the replacement's send and its push→SMS fallback check


def test_an_expiry_is_replaced(replace_incident, django_capture_on_commit_callbacks, monkeypatch):
    incident, app, _ = replace_incident
    monkeypatch.setattr(sweep, "alerts_sms_fallback_enqueue", lambda **kw: None)
    monkeypatch.setattr(sweep, "incident_escalate_enqueue", lambda **kw: None)
    monkeypatch.setattr(sweep, "deliveries_send_enqueue", lambda **kw: None)
    ten_minutes_ago = timezone.now() - dt.timedelta(seconds=601)
    Alert.objects.filter(incident=incident, volunteer__in=app[:2]).update(
        created_at=ten_minutes_ago
    )

    with django_capture_on_commit_callbacks(execute=False):
        assert sweep.sweep()["expired"] == 2

    assert set(alerted(incident)[-2:]) == {app[3].pk, app[4].pk}
    assert unanswered_app(incident) == 3


def test_a_withdrawal_is_replaced_and_recruiting_resumes(django_capture_on_commit_callbacks):
    incident = pending_incident(**REPLACE | {"target_accepted": 1})
    app = [VolunteerFactory(location=north(km * 1000 - 200)) for km in range(1, 6)]
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=incident.pk)
        answers.alert_accept(alert_id=alert_of(incident, app[0]).pk, volunteer=app[0])
    assert Incident.objects.get(pk=incident.pk).state == Incident.State.ACTIVE
    assert unanswered_app(incident) == 0  # the others released: the target is reached

    with django_capture_on_commit_callbacks(execute=False):
        answers.alert_progress(
            alert_id=alert_of(incident, app[0]).pk, volunteer=app[0], state="released"
        )

    assert Incident.objects.get(pk=incident.pk).state == Incident.State.DISPATCHING
    assert alerted(incident)[-2:] == [app[3].pk, app[4].pk]
    assert unanswered_app(incident) == 2  # all there was left within 5 km


def test_a_responder_who_finished_on_scene_is_not_replaced(django_capture_on_commit_callbacks):
    incident = pending_incident(**REPLACE | {"target_accepted": 1})
    app = [VolunteerFactory(location=north(km * 1000 - 200)) for km in range(1, 6)]
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=incident.pk)
        alert = alert_of(incident, app[0])
        answers.alert_accept(alert_id=alert.pk, volunteer=app[0])
        answers.alert_progress(alert_id=alert.pk, volunteer=app[0], state="on_scene")
        answers.alert_progress(alert_id=alert.pk, volunteer=app[0], state="released")

    assert len(alerted(incident)) == 3
    assert not IncidentEvent.objects.filter(incident=incident, kind="replacements").exists()


def test_replacements_stop_once_the_target_has_accepted(
    replace_incident, django_capture_on_commit_callbacks
):
    incident, app, _ = replace_incident
    Alert.objects.filter(incident=incident, volunteer__in=app[:2]).update(
        state=Alert.State.ACCEPTED, role="cpr", answered_at=timezone.now()
    )
    Alert.objects.filter(incident=incident, volunteer=app[2]).update(state=Alert.State.DECLINED)

    with django_capture_on_commit_callbacks(execute=False):
        assert waves.replacements_top_up(incident_id=incident.pk) == 0

    assert len(alerted(incident)) == 4


def test_replacements_never_go_beyond_the_maximum_radius(django_capture_on_commit_callbacks):
    incident = pending_incident(**REPLACE)
    near = [VolunteerFactory(location=north(m)) for m in (500, 1500, 2500)]
    VolunteerFactory(location=north(6000))  # beyond the 5 km maximum
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=incident.pk)
        answers.alert_decline(alert_id=alert_of(incident, near[0]).pk, volunteer=near[0])

    assert set(alerted(incident)) == {v.pk for v in near}
    assert not IncidentEvent.objects.filter(incident=incident, kind="replacements").exists()


def test_the_periodic_check_tops_up_in_replace_mode_instead_of_a_wave(
    django_capture_on_commit_callbacks,
):
    incident = pending_incident(**REPLACE)
    first = VolunteerFactory(location=north(500))
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=incident.pk)
    later = [VolunteerFactory(location=north(m)) for m in (3000, 4000, 4500)]  # came into range

    with django_capture_on_commit_callbacks(execute=False):
        assert waves.incident_escalate(incident_id=incident.pk, after_wave=1) is True

    assert set(alerted(incident)) == {first.pk, later[0].pk, later[1].pk}
    incident.refresh_from_db()
    assert incident.dispatch_wave == 1
    assert IncidentEvent.objects.filter(incident=incident, kind="wave").count() == 1


def test_waves_mode_never_replaces(django_capture_on_commit_callbacks):
    incident = pending_incident(mode="waves", radius_m=5000)
    volunteers = [VolunteerFactory(location=north(m)) for m in (500, 1500)]
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=incident.pk)
    VolunteerFactory(location=north(2500))

    with django_capture_on_commit_callbacks(execute=False):
        answers.alert_decline(
            alert_id=alert_of(incident, volunteers[0]).pk, volunteer=volunteers[0]
        )
        assert waves.replacements_top_up(incident_id=incident.pk) == 0

    assert len(alerted(incident)) == 2


# --- Waves: the maximum, and the dispatcher's extra wave beyond it ----------------------------


def test_a_manual_wave_beyond_the_maximum_is_labelled_and_stays_within_the_maximum_radius(
    django_capture_on_commit_callbacks,
):
    incident = pending_incident(
        mode="waves", radius_m=1000, radius_step_m=2000, max_radius_m=4000, max_waves=2
    )
    VolunteerFactory(location=north(500))
    beyond = VolunteerFactory(location=north(4500))
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=incident.pk)
        assert waves.incident_escalate(incident_id=incident.pk, after_wave=1) is True
        # Automatic waves stop at the maximum.
        assert waves.incident_escalate(incident_id=incident.pk, after_wave=2) is False
        assert waves.incident_escalate(incident_id=incident.pk, actor=UserFactory()) is True

    incident.refresh_from_db()
    assert (incident.dispatch_wave, incident.dispatch_radius_m) == (3, 4000)
    messages = list(
        IncidentEvent.objects.filter(incident=incident, kind="wave")
        .order_by("pk")
        .values_list("message", flat=True)
    )
    assert messages[0].startswith("Bølge 1: 1 frivillig alarmeret inden for 1,0 km")
    assert messages[1].startswith("Bølge 2: ")
    assert messages[2].startswith("Ekstra bølge 3 ud over politikkens 2: ")
    assert not Alert.objects.filter(volunteer=beyond).exists()
