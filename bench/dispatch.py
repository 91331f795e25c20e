"""2. Dispatch latency: incident commit → 20th message at the fake providers, via worker+broker."""

from __future__ import annotations

import time

from bench.common import log, summary_ms

DEVICE_SHARE_SQL = """
    INSERT INTO volunteers_device (volunteer_id, push_token, platform, is_active, last_seen_at,
                                   created_at)
    SELECT id, 'bench-push-' || id, 'android', true, now(), now()
    FROM volunteers_volunteer WHERE synthetic AND is_heart_runner AND id % 2 = 0
    ON CONFLICT (volunteer_id, push_token) DO NOTHING
"""


# The positions in the benchmark database age from the moment they were generated: with the
# policy's 30 minutes, an hour or two later most incidents found fewer than 20 candidates and
# the measurement timed out on messages that could not come (57 of 200 incidents, then nearly
# all). A day keeps the candidates there for `--only dispatch` runs on data generated earlier.
LOCATION_MAX_AGE_S = 24 * 3600


def prepare() -> None:
    """Half the app volunteers have the app with a push token; the policy in force for the run
    leaves the follow-ups (SMS fallback, next wave) outside the measured window."""
    from django.db import connection

    from alerts.models import DispatchPolicy

    with connection.cursor() as cursor:
        cursor.execute(DEVICE_SHARE_SQL)
        cursor.execute("ANALYZE volunteers_device")
    DispatchPolicy.objects.update(is_active=False)
    DispatchPolicy.objects.create(
        name="Benchmark",
        escalate_after_s=3600,
        push_receipt_timeout_s=3600,
        location_max_age_s=LOCATION_MAX_AGE_S,
    )


# Each of the 8 prefork processes builds its Twilio and FCM clients on its first send of each
# kind (FCM's: an HTTP client with a TLS context, a fraction of a second on this machine); with
# 5 warm-up incidents some processes still did it inside the measured window.
WARM_UP = 15


# Where the time goes, per incident, from the worker's own timestamps (same machine, same clock):
# the deliveries' creation (queue hop, selection, inserts), the first hand-over to a provider
# (commit, queue hop, claim), the first arrival at the fakes, the nth arrival.
STEPS = ("commit_to_created", "created_to_handed_over", "handed_over_to_first", "first_to_nth")


def _steps(steps: dict[str, list[float]], incident, t0: float, first: float, nth: float) -> None:
    from django.db.models import Min

    from alerts.models import AlertDelivery

    times = AlertDelivery.objects.filter(alert__incident=incident).aggregate(
        created=Min("created_at"), handed_over=Min("handed_over_at")
    )
    if times["created"] is None or times["handed_over"] is None:
        return
    created, handed_over = times["created"].timestamp(), times["handed_over"].timestamp()
    for name, value in zip(
        STEPS, (created - t0, handed_over - created, first - handed_over, nth - first), strict=True
    ):
        steps[name].append(value)


def _console_create():
    """The console's path: incident_create in a transaction; t0 is the commit."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from amk.services.incidents import incident_create
    from config.exceptions import ApplicationError

    user, _ = get_user_model().objects.get_or_create(username="bench-dispatcher")

    def create(point, _i: int):
        committed: dict[str, float] = {}
        try:
            with transaction.atomic():
                # Registered first, so it runs first: the moment of the commit.
                transaction.on_commit(lambda c=committed: c.setdefault("t", time.time()))
                incident = incident_create(created_by=user, location=point, address="Benchmark")
        except ApplicationError:
            return None, 0.0  # the jitter put the point in the sea or outside the region
        return incident, committed["t"]

    return create


def _cad_create():
    """The CAD's path: POST /api/cad/v1/incidents/ with an API key through the whole Django
    and DRF stack (in-process client: no network hop); t0 is before the request."""
    from django.test import Client

    from amk.cad.models import CadSystem
    from amk.cad.services.keys import api_key_issue, cad_system_create
    from amk.models.incident import Incident

    system = CadSystem.objects.filter(name="Benchmark CAD").first()
    system = system or cad_system_create(name="Benchmark CAD")
    _key, raw = api_key_issue(system=system, name="bench")
    client, run = Client(), int(time.time())

    def create(point, i: int):
        body = {
            "cad_number": f"BENCH-{run}-{i}",
            "location": {"lat": point.y, "lon": point.x},
            "address": "Benchmark",
        }
        t0 = time.time()
        response = client.post(
            "/api/cad/v1/incidents/",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        if response.status_code != 201:
            return None, 0.0  # outside the region
        return Incident.objects.get(pk=response.json()["incident_id"]), t0

    return create


def measure(*, providers, incidents: int = 200, nth: int = 20, via_cad: bool = False) -> dict:
    from alerts.models import AlertDelivery
    from bench.common import incident_points

    label = "CAD create" if via_cad else "commit"
    create = _cad_create() if via_cad else _console_create()
    latencies, short, deliveries_per_incident = [], 0, []
    steps: dict[str, list[float]] = {name: [] for name in STEPS}
    # The same points as the console's run: the two are compared incident for incident.
    points = incident_points(incidents + WARM_UP + 20, seed=23)
    for i, point in enumerate(points):
        incident, t0 = create(point, i)
        if incident is None:
            continue
        deadline = t0 + 10
        while len(providers.arrivals_since(t0)) < nth and time.time() < deadline:
            time.sleep(0.002)
        arrived = sorted(providers.arrivals_since(t0))
        # Let this incident's remaining deliveries finish before the next one starts.
        expected = AlertDelivery.objects.filter(alert__incident=incident).count()
        while len(providers.arrivals_since(t0)) < expected and time.time() < deadline:
            time.sleep(0.005)
        if i < WARM_UP:
            continue  # warm-up: every worker process builds its clients and opens connections
        if len(deliveries_per_incident) >= incidents:
            break
        deliveries_per_incident.append(expected)
        if len(arrived) >= nth:
            latencies.append(arrived[nth - 1] - t0)
            _steps(steps, incident, t0, arrived[0], arrived[nth - 1])
        else:
            short += 1
    result = summary_ms(latencies) | {
        "incidents": incidents,
        "fewer_than_nth": short,
        "nth": nth,
        "mean_deliveries": round(sum(deliveries_per_incident) / len(deliveries_per_incident), 1),
        "steps": {name: summary_ms(values) for name, values in steps.items()},
    }
    log(
        f"dispatch: {label} → {nth}th delivery p50 {result['p50_ms']} ms, p95 {result['p95_ms']} "
        f"ms, p99 {result['p99_ms']} ms over {len(latencies)} incidents "
        f"({result['mean_deliveries']} deliveries each on average, {short} with fewer than {nth})"
    )
    for name, figures in result["steps"].items():
        log(f"dispatch step {name}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms")
    return result


def baseline(*, rounds: int = 50, nth: int = 20) -> dict:
    """The floor: the same 20 messages sent one after another from one process through the same
    real Twilio client to the same fake, with no database, queue or worker in between."""
    from alerts.channels.base import SmsMessage, get_sms_backend

    backend = get_sms_backend()
    times = []
    for i in range(rounds + 2):
        t0 = time.perf_counter()
        for n in range(nth):
            backend.send(
                SmsMessage(
                    to=f"+4520{n:06d}", body="Benchmark", validity_s=None, status_callback_url=None
                )
            )
        if i >= 2:
            times.append(time.perf_counter() - t0)
    result = summary_ms(times)
    log(
        f"dispatch baseline: {nth} sequential sends p50 {result['p50_ms']} ms, "
        f"p95 {result['p95_ms']} ms"
    )
    return result
