"""The surplus is released only when enough responders are evidently coming (progress reported,
or acceptances older than the policy's `release_surplus_after_s`): fake accounts that accept and
never move neither stand the real volunteers down nor stop the escalation.

Across the queue: a real Celery worker on Redis, the app's API for the answers, and the sweep
sent to the worker as beat sends it.
"""

import datetime as dt
import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert, AlertDelivery
from amk.models import Incident
from amk.services import incidents as amk_services
from tests.factories import AARHUS_C, DispatchPolicyFactory, UserFactory, VolunteerFactory, point
from volunteers.models import Volunteer
from volunteers.services.accounts import auth_token_create

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_geography"),
]

ADDRESS = "Store Torv 1, 8000 Aarhus C"
# Two must come; the first wave reaches 1 km, the second 3 km.
POLICY = {
    "target_accepted": 2,
    "radius_m": 1000,
    "radius_step_m": 2000,
    "max_radius_m": 3000,
    "max_waves": 2,
    "escalate_after_s": 1,
    "push_receipt_timeout_s": 600,
    "release_surplus_after_s": 600,
}


def wait_until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def app_volunteer(metres_north: int) -> tuple[Volunteer, APIClient]:
    volunteer = VolunteerFactory(location=point(AARHUS_C[0], AARHUS_C[1] + metres_north / 111_200))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {auth_token_create(user=volunteer.user)}")
    return volunteer, client


def alert_of(incident: Incident, volunteer: Volunteer) -> Alert:
    return Alert.objects.get(incident=incident, volunteer=volunteer)


def answer(client: APIClient, alert: Alert, step: str, body: dict | None = None) -> None:
    response = client.post(f"/api/v1/alerts/{alert.pk}/{step}/", body or {}, format="json")
    assert response.status_code == 200, response.content


def dispatched(volunteers: list[Volunteer]) -> Incident:
    incident = amk_services.incident_create(
        created_by=UserFactory(), location=point(*AARHUS_C), address=ADDRESS
    )
    wait_until(lambda: Alert.objects.filter(incident=incident).count() == len(volunteers))
    return incident


def test_acceptances_without_progress_release_nobody_and_the_escalation_goes_on(dispatch_worker):
    DispatchPolicyFactory(**POLICY)
    (fake_1, app_1), (fake_2, app_2) = app_volunteer(100), app_volunteer(200)
    real, _ = app_volunteer(300)
    farther, _ = app_volunteer(2000)  # beyond the first wave

    incident = dispatched([fake_1, fake_2, real])
    answer(app_1, alert_of(incident, fake_1), "accept")
    answer(app_2, alert_of(incident, fake_2), "accept")

    # The target has accepted, but nobody has moved: the next wave goes out all the same.
    wait_until(lambda: Alert.objects.filter(incident=incident, volunteer=farther).exists())
    incident.refresh_from_db()
    assert incident.state == Incident.State.DISPATCHING
    assert incident.dispatch_wave == 2
    assert alert_of(incident, real).state in Alert.WAITING_STATES
    assert not AlertDelivery.objects.filter(
        alert__incident=incident, kind=AlertDelivery.Kind.RELEASE
    ).exists()


def test_responders_on_the_way_release_the_others(dispatch_worker):
    DispatchPolicyFactory(**POLICY | {"escalate_after_s": 600})
    (first, app_1), (second, app_2) = app_volunteer(100), app_volunteer(200)
    waiting, _ = app_volunteer(300)
    incident = dispatched([first, second, waiting])
    answer(app_1, alert_of(incident, first), "accept")
    answer(app_2, alert_of(incident, second), "accept")
    answer(app_1, alert_of(incident, first), "progress", {"state": "en_route"})
    assert alert_of(incident, waiting).state in Alert.WAITING_STATES  # one is not enough

    answer(app_2, alert_of(incident, second), "progress", {"state": "on_scene"})

    assert alert_of(incident, waiting).state == Alert.State.RELEASED
    incident.refresh_from_db()
    assert incident.state == Incident.State.ACTIVE
    wait_until(
        lambda: AlertDelivery.objects.filter(
            alert__volunteer=waiting, kind=AlertDelivery.Kind.RELEASE, state="sent"
        ).exists()
    )


def test_acceptances_older_than_the_policy_time_release_the_others_at_the_sweep(
    dispatch_worker,
):
    DispatchPolicyFactory(**POLICY | {"escalate_after_s": 600, "max_waves": 1})
    (first, app_1), (second, app_2) = app_volunteer(100), app_volunteer(200)
    waiting, _ = app_volunteer(300)
    incident = dispatched([first, second, waiting])
    answer(app_1, alert_of(incident, first), "accept")
    answer(app_2, alert_of(incident, second), "accept")
    dispatch_worker.send_task("alerts.tasks.sweep_task")
    time.sleep(1)  # the sweep has nothing due yet: the acceptances are fresh
    assert alert_of(incident, waiting).state in Alert.WAITING_STATES

    # Twenty minutes on (the clock moved for the incident's rows): the sweep's check releases.
    earlier = dt.timedelta(minutes=20)
    Alert.objects.filter(incident=incident, answered_at__isnull=False).update(
        answered_at=timezone.now() - earlier
    )
    Incident.objects.filter(pk=incident.pk).update(last_wave_at=timezone.now() - earlier)
    dispatch_worker.send_task("alerts.tasks.sweep_task")

    wait_until(lambda: alert_of(incident, waiting).state == Alert.State.RELEASED)
    wait_until(lambda: Incident.objects.get(pk=incident.pk).state == Incident.State.ACTIVE)
