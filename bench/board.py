"""4. The console's live board JSON for an incident with 50 alerts: queries and latency."""

from __future__ import annotations

import time

from bench.common import log, summary_ms


def _incident_with_alerts(user, point, alerts: int):
    from django.db import connection

    from alerts.models import Alert, AlertDelivery
    from amk.models import Incident
    from amk.selectors.territory import municipality_containing

    incident = Incident.objects.create(
        location=point,
        address="Benchmark",
        municipality=municipality_containing(point=point),
        created_by=user,
        state=Incident.State.DISPATCHING,
        dispatch_wave=1,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM volunteers_volunteer WHERE location IS NOT NULL "
            "ORDER BY location <-> %s::geography LIMIT %s",
            [point.ewkt, alerts],
        )
        volunteer_ids = [row[0] for row in cursor.fetchall()]
    created = Alert.objects.bulk_create(
        [
            Alert(
                incident=incident,
                volunteer_id=v,
                pool=Alert.Pool.APP,
                wave=1,
                distance_m=100 + i,
                state=Alert.State.SENT,
            )
            for i, v in enumerate(volunteer_ids)
        ]
    )
    AlertDelivery.objects.bulk_create(
        [
            AlertDelivery(
                alert=a,
                channel=channel,
                kind=AlertDelivery.Kind.ALERT,
                state=AlertDelivery.State.SENT,
            )
            for a in created
            for channel in (AlertDelivery.Channel.PUSH, AlertDelivery.Channel.SMS)
        ]
    )
    return incident


def _timed_gets(get, path: str, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        get(path)
        times.append(time.perf_counter() - t0)
    return times


def measure(*, url: str | None = None, requests: int = 300) -> dict:
    """Queries through the in-process client; latency through gunicorn at ``url`` (one kept-
    alive connection, the session cookie of a logged-in dispatcher), or in-process without."""
    import http.client
    from urllib.parse import urlsplit

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.common import incident_points

    user, _ = get_user_model().objects.get_or_create(
        username="bench-board", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    point = incident_points(1, seed=31)[0]
    with connection.cursor() as cursor:
        # Fresh statistics, as autovacuum keeps them in a running installation: just after the
        # data load, the AED table's were stale and the alerts query scanned it whole.
        cursor.execute("ANALYZE defibrillators_defibrillator, alerts_alert, alerts_alertdelivery")
    queries = {}
    for n in (5, 50):
        incident = _incident_with_alerts(user, point, n)
        path = f"/console/incidents/{incident.pk}/board.json"
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        assert response.status_code == 200, response.status_code
        assert len(response.json()["alerts"]) == n
        queries[n] = len(captured.captured_queries)
    if url:
        parts = urlsplit(url)
        server = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        name = settings.SESSION_COOKIE_NAME
        cookie = f"{name}={client.cookies[name].value}"

        def get(target: str) -> None:
            server.request("GET", target, headers={"Cookie": cookie})
            answer = server.getresponse()
            answer.read()
            assert answer.status == 200, (target, answer.status)

        via = "gunicorn"
    else:

        def get(target: str) -> None:
            client.get(target)

        via = "in-process client"
    _timed_gets(get, path, 20)  # warm-up: every worker process and thread
    result = summary_ms(_timed_gets(get, path, requests)) | {
        "queries_5_alerts": queries[5],
        "queries_50_alerts": queries[50],
        "via": via,
    }
    # Baseline: a request through the same server, session and middleware, doing nothing.
    result["baseline"] = summary_ms(_timed_gets(get, "/bench/pong/", requests))
    log(
        f"board ({via}): {queries[50]} queries with 50 alerts ({queries[5]} with 5); p95 "
        f"{result['p95_ms']} ms; /bench/pong/ baseline p95 {result['baseline']['p95_ms']} ms"
    )
    return result
