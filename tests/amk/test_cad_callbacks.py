"""Callbacks to a CAD: rows written with the change, signed, retried while the CAD fails,
taken once; the verification function a CAD uses refuses forged, expired and replayed ones."""

import json
import time

import pytest
from django.utils import timezone

from amk.cad.models import CadCallback
from amk.cad.receivers import callbacks_wanted_reset
from amk.cad.services.callbacks import callbacks_send, callbacks_sweep
from amk.cad.services.incidents import cad_incident_cancel, cad_incident_create
from amk.cad.signing import CallbackRejectedError, callback_signature, callback_verify
from amk.models.incident import IncidentEvent
from tests.cad import cad_system
from tests.factories import AARHUS_C, point

SECRET = "s3cret-of-the-cad"


@pytest.fixture(autouse=True)
def _callbacks_cache():
    callbacks_wanted_reset()
    yield
    callbacks_wanted_reset()


def _signed(body: bytes, *, at: int, secret: str = SECRET) -> dict:
    return {
        "secret": SECRET,
        "timestamp": str(at),
        "signature": callback_signature(secret=secret, timestamp=at, body=body),
        "body": body,
    }


def test_the_verification_takes_a_good_callback():
    body = json.dumps({"event": {"id": "e1"}}).encode()
    assert callback_verify(**_signed(body, at=int(time.time())), seen={}) == {"event": {"id": "e1"}}


def test_the_verification_refuses_forged_expired_and_replayed_callbacks():
    now = int(time.time())
    body = b'{"event":{"id":"e1"}}'

    def reason(**kwargs) -> str:
        with pytest.raises(CallbackRejectedError) as refused:
            callback_verify(**kwargs)
        return refused.value.reason

    assert reason(**_signed(body, at=now, secret="another secret")) == "forged"
    assert reason(**(_signed(body, at=now) | {"body": b'{"event":{"id":"e2"}}'})) == "forged"
    assert reason(**(_signed(body, at=now) | {"timestamp": str(now + 1)})) == "forged"
    assert reason(**(_signed(body, at=now) | {"signature": ""})) == "forged"
    assert reason(**(_signed(body, at=now) | {"timestamp": "soon"})) == "malformed"
    assert reason(**_signed(body, at=now - 301)) == "expired"
    assert reason(**_signed(body, at=now + 301)) == "expired"
    seen: dict[str, float] = {}
    callback_verify(**_signed(body, at=now), seen=seen)
    assert reason(**_signed(body, at=now), seen=seen) == "replayed"


@pytest.mark.django_db
def test_a_callback_survives_a_failing_cad_and_arrives_once(
    reference_geography, settings, fake_cad
):
    settings.CAD_CALLBACK_BACKOFF_S = 0
    system, _key = cad_system(callback_url=fake_cad.url)
    fake_cad.secret = system.callback_secret
    _link, _created = cad_incident_create(
        system=system, cad_number="A1", location=point(*AARHUS_C), address="Store Torv 1"
    )
    cad_incident_cancel(system=system, cad_number="A1")
    callbacks = list(CadCallback.objects.order_by("pk"))
    assert [c.incident_event.kind for c in callbacks] == [
        IncidentEvent.Kind.CREATED,
        IncidentEvent.Kind.CANCELLED,
    ]
    fake_cad.fail_times = 5

    rounds = 0
    while CadCallback.objects.exclude(state=CadCallback.State.DELIVERED).exists():
        rounds += 1
        assert rounds <= 10
        callbacks_send(callback_ids=[c.pk for c in callbacks])

    # Each once; a retry may overtake: the CAD orders by the event's sequence.
    received = sorted(fake_cad.accepted.all(), key=lambda b: b["event"]["sequence"])
    assert [b["event"]["id"] for b in received] == [str(c.event_id) for c in callbacks]
    assert [b["event"]["kind"] for b in received] == ["created", "cancelled"]
    assert received[1]["incident"]["state"] == "cancelled"
    assert received[1]["incident"]["cad_number"] == "A1"
    assert len([r for r in fake_cad.requests.all() if r.status == 503]) == 5
    assert len([r for r in fake_cad.requests.all() if r.status == 200]) == 2
    assert [c.attempts for c in CadCallback.objects.order_by("pk")] == [4, 3]
    # Delivered ones are never claimed again.
    callbacks_send(callback_ids=[c.pk for c in callbacks])
    assert len(fake_cad.requests) == 7


@pytest.mark.django_db
def test_a_cad_down_is_retried_by_the_sweep_and_a_wrong_secret_is_refused_by_the_cad(
    reference_geography, settings, fake_cad
):
    settings.CAD_CALLBACK_BACKOFF_S = 0
    system, _key = cad_system(callback_url=fake_cad.url)
    fake_cad.secret = "not what we sign with"
    cad_incident_create(system=system, cad_number="A2", location=point(*AARHUS_C))
    [callback] = CadCallback.objects.all()

    callbacks_send(callback_ids=[callback.pk])

    callback.refresh_from_db()
    assert (callback.state, callback.last_status) == (CadCallback.State.PENDING, 401)
    assert fake_cad.requests.all()[0].reason == "forged"
    fake_cad.secret = system.callback_secret
    fake_cad.down()
    callbacks_send(callback_ids=[callback.pk])
    callback.refresh_from_db()
    assert callback.state == CadCallback.State.PENDING
    assert "ConnectionError" in callback.last_error
    fake_cad.up()
    # Due again: the sweep finds it (the broker is the test's Redis; send it ourselves).
    CadCallback.objects.filter(pk=callback.pk).update(next_attempt_at=timezone.now())
    assert callbacks_sweep() == 1
    callbacks_send(callback_ids=[callback.pk])
    callback.refresh_from_db()
    assert callback.state == CadCallback.State.DELIVERED
    assert len(fake_cad.accepted) == 1


@pytest.mark.django_db
def test_no_callbacks_without_a_url(reference_geography):
    system, _key = cad_system()
    cad_incident_create(system=system, cad_number="A3", location=point(*AARHUS_C))
    cad_incident_cancel(system=system, cad_number="A3")
    assert not CadCallback.objects.exists()


def test_the_sweep_is_scheduled(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "amk.cad.tasks.callbacks_sweep_task" in tasks
