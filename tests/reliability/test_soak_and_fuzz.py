"""Soak (mixed load for RELIABILITY_SOAK_S, default 10 minutes) and API fuzzing (>= 1,000
generated requests). Slow: run by ./scripts/reliability.sh."""

import math
import os
import time

import pytest
import schemathesis
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from rest_framework.test import APIClient

from alerts.models import Alert, AlertDelivery
from alerts.services import answers
from amk.models import Incident
from amk.services import incidents as amk_services
from config.wsgi import application
from tests.factories import (
    AARHUS_C,
    AlertFactory,
    DeviceFactory,
    DispatcherFactory,
    IncidentFactory,
    VolunteerFactory,
)
from tests.reliability.harness import account, alert_latency_s, record, wait_settled
from tests.reliability.test_faults import _incident, platform  # noqa: F401
from tests.test_schema_fuzz import _keep_test_connection  # noqa: F401
from volunteers.services.accounts import auth_token_create

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fresh_cache")]

SOAK_S = int(os.environ.get("RELIABILITY_SOAK_S", "600"))
# The worker (main + 4 children) may grow at most 64 MiB from the end of the first minute of
# load (each child has then loaded the provider clients, translations and query plans) to the
# end; the database connections may not outgrow one per pool child and the test's own.
WORKER_RSS_BOUND_KIB = 64 * 1024
LOAD_WARM_UP_TICKS = min(60, SOAK_S // 3)
WORKER_CONCURRENCY = 4


def _connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


# pytest-timeout's 300 s (pyproject) would cut the soak short: warm-up, SOAK_S, settling.
@pytest.mark.timeout(20 + SOAK_S + 120 + 120)
@pytest.mark.django_db(transaction=True)
def test_soak_mixed_load(platform, settings, fake_twilio, fake_fcm):  # noqa: F811
    settings.LOCATION_MIN_INTERVAL_S = 0
    dispatcher = DispatcherFactory()
    movers = platform["volunteers"]
    clients = []
    for v in movers:
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Token {auth_token_create(user=v.user)}")
        clients.append(c)
    worker = platform["worker"]
    time.sleep(20)  # warm-up: worker children imported everything
    rss_idle = worker.rss_kib()
    rss_start = None
    errors, locations, incidents, accepted, closed = 0, 0, 0, 0, 0
    rss_samples = []
    started = time.monotonic()
    tick = 0
    while time.monotonic() - started < SOAK_S:
        tick += 1
        # One incident a second.
        _incident(dispatcher, tick)
        incidents += 1
        # Location updates at a steady rate: 12 volunteers every 4 s = 3 a second.
        for i in range(3):
            k = (tick * 3 + i) % len(clients)
            lat = AARHUS_C[1] + 0.001 * k + 0.00001 * (tick % 7)
            response = clients[k].post(
                "/api/v1/me/location/",
                {
                    "lat": lat,
                    "lon": AARHUS_C[0],
                    "accuracy_m": 10,
                    "measured_at": timezone.now().isoformat(),
                },
                format="json",
            )
            locations += 1
            errors += response.status_code >= 400
        # Acceptances: the nearest volunteer accepts an incident from 3 s ago; close after 10 s.
        for alert in (
            Alert.objects.filter(
                state__in=Alert.WAITING_STATES,
                incident__state=Incident.State.DISPATCHING,
                incident__created_at__lte=timezone.now() - timezone.timedelta(seconds=3),
            )
            .select_related("volunteer")
            .order_by("distance_m")[:1]
        ):
            try:
                answers.alert_accept(alert_id=alert.pk, volunteer=alert.volunteer)
                accepted += 1
            except Exception:
                errors += 1
        for incident_id in Incident.objects.filter(
            state__in=Incident.OPEN_STATES,
            created_at__lte=timezone.now() - timezone.timedelta(seconds=10),
        ).values_list("pk", flat=True)[:5]:
            amk_services.incident_close(incident_id=incident_id, actor=dispatcher)
            closed += 1
        if tick == LOAD_WARM_UP_TICKS:
            rss_start = worker.rss_kib()
        if tick % 30 == 0:
            rss_samples.append(worker.rss_kib())
        time.sleep(max(0.0, started + tick - time.monotonic()))
    recovery = wait_settled(timeout=120)
    rss_end = worker.rss_kib()
    conns_end = _connections()
    figures = account(fake_twilio, fake_fcm)
    figures |= {
        "trials": incidents,
        "duration_s": SOAK_S,
        "location_updates": locations,
        "accepted": accepted,
        "closed": closed,
        "errors": errors,
        "worker_rss_idle_mib": round(rss_idle / 1024, 1),
        "worker_rss_start_mib": round(rss_start / 1024, 1),
        "worker_rss_samples_mib": [round(r / 1024, 1) for r in rss_samples],
        "worker_rss_end_mib": round(rss_end / 1024, 1),
        "worker_rss_max_mib": round(max([*rss_samples, rss_end]) / 1024, 1),
        "worker_rss_bound_mib": WORKER_RSS_BOUND_KIB // 1024,
        "db_connections_end": conns_end,
        "db_connections_bound": 1 + WORKER_CONCURRENCY,
        "max_alert_latency_s": alert_latency_s(),
        "max_recovery_s": round(recovery, 1) if recovery is not None else None,
        "failed_deliveries": AlertDelivery.objects.filter(state=AlertDelivery.State.FAILED).count(),
    }
    record("soak", **figures)
    assert errors == 0, figures
    assert rss_end - rss_start < WORKER_RSS_BOUND_KIB, figures
    assert conns_end <= 1 + WORKER_CONCURRENCY, figures
    assert recovery is not None, figures
    assert figures["lost"] == 0, figures
    assert figures["duplicated"] == 0, figures


@pytest.mark.django_db
def test_api_fuzz_a_thousand_requests(reference_geography):
    volunteer = VolunteerFactory()
    DeviceFactory(volunteer=volunteer)
    AlertFactory(volunteer=volunteer, incident=IncidentFactory(), state="sent")
    token = auth_token_create(user=volunteer.user)
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    per_operation = math.ceil(1000 / len(operations)) + 5
    counts = {"requests": 0, "server_errors": 0}
    failures = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=per_operation,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            revokes = case.path in ("/api/v1/auth/logout/", "/api/v1/me/") and (
                case.method.upper() in ("POST", "DELETE")
            )
            own = token
            if revokes:
                own = auth_token_create(user=VolunteerFactory().user)
            response = case.call(headers={"Authorization": f"Token {own}"})
            counts["requests"] += 1
            if response.status_code >= 500:
                counts["server_errors"] += 1
                failures.append((case.method, case.path, response.status_code))

        check()
    record(
        "api_fuzz",
        trials=counts["requests"],
        lost=0,
        duplicated=0,
        max_recovery_s=0,
        **counts,
        failures=failures[:20],
    )
    assert counts["requests"] >= 1000
    assert counts["server_errors"] == 0, failures
