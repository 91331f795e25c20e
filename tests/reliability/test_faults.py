"""Faults injected into the real components (slow; run by ./scripts/reliability.sh).

A real `celery -A config worker` (prefork) and `celery beat` run as subprocesses on the test
database and Redis; SMS and push go through the real twilio and firebase-admin clients to the
fake providers, which count what they receive. Each test records its figures for
docs/reliability.json (tests/reliability/harness.py).
"""

import os
import random
import subprocess
import time
from urllib.parse import urlparse

import pytest
from django.urls import reverse

from alerts.models import AlertDelivery
from amk.models import Incident
from amk.services import incidents as amk_services
from tests.factories import (
    AARHUS_C,
    DeviceFactory,
    DispatcherFactory,
    DispatchPolicyFactory,
    VolunteerFactory,
    point,
)
from tests.reliability.harness import (
    CeleryProcess,
    account,
    alert_latency_s,
    record,
    slowest_alerts,
    slowest_dispatches,
    wait_settled,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KILLS = int(os.environ.get("RELIABILITY_KILLS", "50"))
SOAK_S = int(os.environ.get("RELIABILITY_SOAK_S", "600"))


@pytest.fixture
def platform(
    settings, reference_geography, twilio_backend_settings, fcm_backend_settings, tmp_path
):
    """Volunteers around Aarhus (half with the app), a policy, a worker and beat."""
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    DispatchPolicyFactory(push_receipt_timeout_s=3600, escalate_after_s=3600)
    volunteers = [
        VolunteerFactory(location=point(AARHUS_C[0], AARHUS_C[1] + 0.001 * i)) for i in range(12)
    ]
    for v in volunteers[:6]:
        DeviceFactory(volunteer=v)
    worker = CeleryProcess(settings, "worker", tmp_path).start()
    beat = CeleryProcess(settings, "beat", tmp_path).start()
    yield {"worker": worker, "beat": beat, "volunteers": volunteers, "dir": tmp_path}
    beat.stop()
    worker.stop()
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def _inland(n: int) -> tuple[float, float]:
    """The n-th incident position: west of the cathedral, inland. (Going east, the 37th fell in
    Aarhus harbour, outside every municipality, and incident_create refused it.)"""
    return AARHUS_C[0] - 0.0001 * (n % 50), AARHUS_C[1]


def _incident(dispatcher, n: int) -> Incident:
    return amk_services.incident_create(
        created_by=dispatcher,
        location=point(*_inland(n)),
        address=f"Store Torv {n}, 8000 Aarhus C",
        note="",
        exclusion_reasons=[],
    )


@pytest.mark.timeout(KILLS * 5 + 180 + 120)  # each kill and restart, then settling
def test_worker_killed_during_fan_out(platform, fake_twilio, fake_fcm):
    """SIGKILL the worker (its whole process group) at random points, KILLS times."""
    rng = random.Random(6)
    dispatcher = DispatcherFactory()
    worker = platform["worker"]
    time.sleep(3)
    storm_started = time.monotonic()
    for n in range(KILLS):
        _incident(dispatcher, n)
        time.sleep(rng.uniform(0.05, 2.0))  # the kill lands anywhere in dispatch or sending
        worker.kill()
        worker.start()
    storm_s = time.monotonic() - storm_started
    recovery = wait_settled(timeout=180)
    time.sleep(2)  # late provider requests still in flight
    figures = account(fake_twilio, fake_fcm)
    figures |= {
        "trials": KILLS,
        "max_recovery_s": round(recovery, 1) if recovery is not None else None,
        "max_alert_latency_s": alert_latency_s(),
        "kill_storm_s": round(storm_s, 1),
        "slowest_alerts": slowest_alerts(),
        "slowest_dispatches": slowest_dispatches(),
    }
    record("worker_killed", **figures)
    assert recovery is not None, figures
    assert figures["incidents"] == KILLS
    assert figures["alerts"] == KILLS * 12
    assert figures["lost"] == 0, figures
    assert figures["duplicated"] == 0, figures


def _redis_port(settings) -> int:
    return urlparse(settings.REDIS_URL).port or 6379


def test_broker_down_while_incidents_are_created(platform, settings, client, fake_twilio, fake_fcm):
    """Redis stops for 30 s while the dispatcher creates incidents; then it comes back."""
    port = _redis_port(settings)
    if port == 6379:
        pytest.skip("needs a private Redis (REDIS_URL on another port): scripts/reliability.sh")
    client.force_login(DispatcherFactory())
    time.sleep(3)
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False)
    answered, created, slowest = 0, 0, 0.0
    down_at = time.monotonic()
    n = 0
    while time.monotonic() - down_at < 30:
        n += 1
        started = time.monotonic()
        response = client.post(
            reverse("amk:incident_create"),
            {"location": f"{_inland(n)[1]}, {_inland(n)[0]}", "address": f"Vej {n}"},
        )
        slowest = max(slowest, time.monotonic() - started)
        answered += response.status_code == 302
        created += 1
        time.sleep(1)
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
        ],
        check=True,
    )
    back_at = time.monotonic()
    recovery = wait_settled(timeout=120)
    time.sleep(2)
    figures = account(fake_twilio, fake_fcm)
    last_send = AlertDelivery.objects.order_by("-sent_at").values_list("sent_at", flat=True).first()
    figures |= {
        "trials": created,
        "answered": answered,
        "saved": Incident.objects.count(),
        "slowest_answer_s": round(slowest, 1),
        "max_recovery_s": round(recovery, 1) if recovery is not None else None,
        "seconds_after_redis_back": round(time.monotonic() - back_at, 1),
        "last_send": last_send,
    }
    record("broker_down", **figures)
    assert answered == created == figures["saved"], figures
    assert recovery is not None, figures
    assert recovery <= 15, figures
    assert figures["lost"] == 0, figures
    assert figures["duplicated"] == 0, figures


@pytest.mark.parametrize("fault", ["errors_50pct", "timeouts", "connection_refused", "permanent"])
def test_providers_failing(platform, fault, client, fake_twilio, fake_fcm):
    dispatcher = DispatcherFactory()
    volunteers = platform["volunteers"]
    fakes = (fake_twilio, fake_fcm)
    if fault == "errors_50pct":
        for fake in fakes:
            fake.faults.error_rate = 0.5
    elif fault == "timeouts":
        for fake in fakes:
            fake.faults.delay_s = 3.0  # the clients time out after 2 s
    elif fault == "connection_refused":
        for fake in fakes:
            fake.down()
    else:
        fake_twilio.invalid_numbers.update(str(v.phone) for v in volunteers[9:])
        fake_fcm.unregistered_tokens.update(
            d.push_token
            for d in DeviceFactory._meta.model.objects.filter(volunteer__in=volunteers[:3])
        )
    time.sleep(3)
    incidents = [_incident(dispatcher, n) for n in range(5)]
    if fault in ("timeouts", "connection_refused"):
        time.sleep(20)
        for fake in fakes:
            fake.faults.delay_s = 0
            fake.up()
    started = time.monotonic()
    recovery = wait_settled(timeout=240)
    for fake in fakes:
        fake.faults.error_rate = 0
    time.sleep(2)
    figures = account(fake_twilio, fake_fcm)
    figures |= {
        "trials": len(incidents),
        "max_recovery_s": round(recovery, 1) if recovery is not None else None,
        "max_alert_latency_s": alert_latency_s(),
        "retries": sum(
            max(0, a - 1) for a in AlertDelivery.objects.values_list("attempts", flat=True)
        ),
    }
    if fault == "permanent":
        # Failed alerts are shown on the dispatcher's board, within 30 s of the incident.
        client.force_login(dispatcher)
        board = client.get(reverse("amk:incident_board", args=[incidents[0].pk])).json()
        states = [row["state"] for row in board["alerts"]]
        figures["board_failed_shown"] = states.count("failed")
        figures["board_shown_within_s"] = round(time.monotonic() - started, 1)
        # 3 SMS-only volunteers with invalid numbers fail; 3 with dead tokens go by SMS.
        expected_failed = 3
        figures["lost"] -= expected_failed * len(incidents)  # failed visibly, not lost
        assert figures["board_failed_shown"] == expected_failed, figures
    record(f"providers_{fault}", **figures)
    assert recovery is not None, figures
    assert figures["lost"] == 0, figures
    assert figures["duplicated"] == 0, figures


def test_database_restart_during_dispatch(platform, settings, fake_twilio, fake_fcm):
    """Restart the (throwaway) PostgreSQL cluster while incidents are being dispatched."""
    cluster = os.environ.get("RELIABILITY_PG_CLUSTER")  # e.g. "15 faults"
    if not cluster:
        pytest.skip("needs a throwaway cluster (RELIABILITY_PG_CLUSTER): scripts/reliability.sh")
    from django.db import connection

    dispatcher = DispatcherFactory()
    time.sleep(3)
    trials = int(os.environ.get("RELIABILITY_DB_RESTARTS", "5"))
    recoveries = []
    for n in range(trials):
        for k in range(3):
            _incident(dispatcher, n * 3 + k)
        # While they are on their way: an incident's alerts are out in about 0.1 s now, so a
        # restart up to a second later (as before) found nothing left to interrupt.
        time.sleep(random.uniform(0.0, 0.25))
        subprocess.run(["pg_ctlcluster", *cluster.split(), "restart", "-m", "fast"], check=True)
        connection.close()
        recovery = wait_settled(timeout=120)
        recoveries.append(recovery)
    time.sleep(2)
    figures = account(fake_twilio, fake_fcm)
    figures |= {
        "trials": trials,
        "max_recovery_s": max((r for r in recoveries if r is not None), default=None),
        "unrecovered": sum(r is None for r in recoveries),
        "max_alert_latency_s": alert_latency_s(),
        "slowest_alerts": slowest_alerts(),
    }
    record("database_restart", **figures)
    assert figures["unrecovered"] == 0, figures
    assert figures["lost"] == 0, figures
    assert figures["duplicated"] == 0, figures
