"""The CAD integration across the queue: a real Celery worker on Redis, PostGIS, Twilio's real
client against the fake, and a fake CAD that fails for a while before it takes callbacks."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from alerts.models import Alert, AlertDelivery
from amk.cad.models import CadCallback
from amk.cad.receivers import callbacks_wanted_reset
from amk.models import Incident
from tests.cad import CREATE_URL, auth, cad_system, create_body, incident_url
from tests.factories import AARHUS_C, DispatchPolicyFactory, VolunteerFactory, point

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def _callbacks_cache():
    callbacks_wanted_reset()
    yield
    callbacks_wanted_reset()


def test_a_create_repeated_three_times_at_once_is_one_incident_and_one_set_of_alerts(
    dispatch_worker,
    reference_geography,
    settings,
    twilio_backend_settings,
    fake_twilio,
    fake_cad,
    fresh_cache,
):
    settings.CAD_CALLBACK_BACKOFF_S = 0.2
    DispatchPolicyFactory(push_receipt_timeout_s=120, escalate_after_s=600)
    lon, lat = AARHUS_C
    volunteers = [VolunteerFactory(location=point(lon, lat + 0.001 * i)) for i in range(1, 6)]
    system, key = cad_system(callback_url=fake_cad.url)
    fake_cad.secret = system.callback_secret
    fake_cad.fail_times = 4  # the CAD's endpoint fails for a while
    start = threading.Barrier(3)

    def create(_n: int) -> tuple[int, int]:
        try:
            start.wait(timeout=10)
            response = APIClient().post(CREATE_URL, create_body(), format="json", **auth(key))
            return response.status_code, response.json()["incident_id"]
        finally:
            connection.close()

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(create, range(3)))

    assert sorted(code for code, _id in answers) == [200, 200, 201]
    assert len({incident_id for _code, incident_id in answers}) == 1
    incident = Incident.objects.get()
    texts = fake_twilio.wait_for_messages(5, timeout=20)
    assert sorted(sms.to for sms in texts) == sorted(str(v.phone) for v in volunteers)
    wait_until(
        lambda: (
            not AlertDelivery.objects.filter(
                alert__incident=incident, state__in=["pending", "sending"]
            ).exists()
        )
    )
    assert Alert.objects.filter(incident=incident).count() == 5
    assert len(fake_twilio.messages) == 5

    # The CAD reads the state and ends the incident; the callbacks arrive once each.
    state = APIClient().get(incident_url("AMK-2026-0001"), **auth(key)).json()
    assert state["counts"]["alerted"] == 5
    assert APIClient().post(incident_url("AMK-2026-0001", "close"), **auth(key)).status_code == 200
    wait_until(
        lambda: (
            not CadCallback.objects.exclude(state=CadCallback.State.DELIVERED).exists()
            and CadCallback.objects.filter(incident_event__kind="closed").exists()
        )
    )
    callbacks = CadCallback.objects.order_by("pk")
    kinds = [c.incident_event.kind for c in callbacks]
    assert kinds[0] == "created"
    assert {"wave", "closed"} <= set(kinds)
    received = fake_cad.accepted.all()
    assert sorted(b["event"]["id"] for b in received) == sorted(str(c.event_id) for c in callbacks)
    assert len([r for r in fake_cad.requests.all() if r.status == 503]) == 4
    assert len([r for r in fake_cad.requests.all() if r.status == 200]) == len(callbacks)
    closed = next(b for b in received if b["event"]["kind"] == "closed")
    assert closed["incident"]["state"] == "closed"
    assert closed["event"]["origin"] == "cad"
