"""Prometheus metrics at /metrics, for a scraper with the bearer token METRICS_TOKEN.

Why computed at scrape time: the platform runs as several gunicorn and Celery processes, so a
count kept in one process's memory would be a fraction of the truth. The incident and delivery
figures are read from the database (alerts.selectors.metrics) over the last METRICS_WINDOW_S,
the queues and heartbeats from Redis, and the events counted in many processes (throttled
requests) from Redis counters (config.counters). Whichever process answers, the numbers are the
same. The window makes the incident and delivery families gauges of "the last 24 hours": use
``histogram_quantile(0.9, hjertealarm_incident_first_delivery_seconds_bucket)`` directly,
not ``rate()``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from alerts.selectors import metrics as selectors
from config.celery import app
from config.counters import TASK_FAILURES, TASK_RETRIES, THROTTLED_REQUESTS, counter_values
from config.heartbeat import heartbeat_ages, redis_client

# Seconds: what an alert's first minute looks like, and the slow tail past it.
FIRST_DELIVERY_BUCKETS = (1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 300)
# kombu's Redis transport keeps a queue's priorities in lists named queue, queue\x06\x163, ...
_KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)


def _histogram(values: list[float]) -> tuple[list[tuple[str, float]], float]:
    buckets = [(str(b), float(sum(1 for v in values if v <= b))) for b in FIRST_DELIVERY_BUCKETS]
    buckets.append(("+Inf", float(len(values))))
    return buckets, float(sum(values))


def _queue_names() -> list[str]:
    names = {app.conf.task_default_queue or "celery"}
    names.update(q.name for q in app.conf.task_queues or ())
    return sorted(names)


def _queue_lengths() -> dict[str, int]:
    pipe = redis_client().pipeline(transaction=False)
    names = _queue_names()
    for name in names:
        for step in _KOMBU_PRIORITY_STEPS:
            pipe.llen(name if not step else f"{name}{_KOMBU_PRIORITY_SEPARATOR}{step}")
    pipe.hlen("unacked")
    lengths = pipe.execute()
    steps = len(_KOMBU_PRIORITY_STEPS)
    result = {name: sum(lengths[i * steps : (i + 1) * steps]) for i, name in enumerate(names)}
    result["(unacked)"] = lengths[-1]
    return result


class PlatformCollector(Collector):
    """Every family, built fresh at each scrape."""

    def collect(self):
        started = time.perf_counter()
        now = timezone.now()
        since = now - dt.timedelta(seconds=settings.METRICS_WINDOW_S)
        yield from self._incidents(since)
        yield from self._queues()
        yield from self._abuse(now)
        yield from self._tasks()
        duration = GaugeMetricFamily(
            "hjertealarm_metrics_scrape_seconds", "Time this scrape took to compute"
        )
        duration.add_metric([], time.perf_counter() - started)
        yield duration

    def _incidents(self, since: dt.datetime):
        seconds, without = selectors.first_delivery_seconds(since=since)
        buckets, total = _histogram(seconds)
        first = HistogramMetricFamily(
            "hjertealarm_incident_first_delivery_seconds",
            "Seconds from an incident's creation to its first alert sent, incidents of the window",
        )
        first.add_metric([], buckets, total)
        yield first
        pending = GaugeMetricFamily(
            "hjertealarm_incidents_without_delivery",
            "Incidents of the window with no alert sent (yet)",
        )
        pending.add_metric([], without)
        yield pending
        deliveries = GaugeMetricFamily(
            "hjertealarm_deliveries",
            "Deliveries of the window's incidents by channel, kind and state",
            labels=["channel", "kind", "state"],
        )
        for channel, kind, state, n in selectors.deliveries_by_state(since=since):
            deliveries.add_metric([channel, kind, state], n)
        yield deliveries
        errors = GaugeMetricFamily(
            "hjertealarm_provider_errors",
            "Provider calls for the window's incidents that failed or lost their answer",
            labels=["channel", "outcome"],
        )
        for channel, outcome, n in selectors.provider_errors(since=since):
            errors.add_metric([channel, outcome], n)
        yield errors

    def _queues(self):
        queues = GaugeMetricFamily(
            "hjertealarm_celery_queue_length",
            "Tasks waiting in each Celery queue; (unacked): taken by a worker, not finished",
            labels=["queue"],
        )
        for name, length in _queue_lengths().items():
            queues.add_metric([name], length)
        yield queues
        ages = GaugeMetricFamily(
            "hjertealarm_heartbeat_age_seconds",
            "Seconds since the freshest heartbeat of the Celery worker and of beat",
            labels=["process"],
        )
        for process, age in heartbeat_ages().items():
            ages.add_metric([process], float("inf") if age is None else age)
        yield ages

    def _abuse(self, now: dt.datetime):
        codes = GaugeMetricFamily(
            "hjertealarm_login_codes_sent",
            "Login codes accepted for sending by SMS in the last hour and day",
            labels=["window"],
        )
        codes.add_metric(["1h"], selectors.codes_sent(since=now - dt.timedelta(hours=1)))
        codes.add_metric(["24h"], selectors.codes_sent(since=now - dt.timedelta(days=1)))
        yield codes
        throttled = CounterMetricFamily(
            "hjertealarm_throttled_requests",
            "API requests refused with 429 (throttles, quotas), by the refusing view",
            labels=["view"],
        )
        for labels, value in counter_values(THROTTLED_REQUESTS):
            throttled.add_metric([labels.get("view", "")], value)
        yield throttled

    def _tasks(self):
        for name, counter, what in (
            ("failures", TASK_FAILURES, "Celery tasks that raised (a login code's SMS refused)"),
            ("retries", TASK_RETRIES, "Celery task retries (a provider's transient errors)"),
        ):
            family = CounterMetricFamily(f"hjertealarm_celery_task_{name}", what, labels=["task"])
            for labels, value in counter_values(counter):
                family.add_metric([labels.get("task", "")], value)
            yield family


_registry = CollectorRegistry(auto_describe=False)
_registry.register(PlatformCollector())


def _authorised(request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.METRICS_TOKEN.encode()
    )


@never_cache
@require_GET
def metrics(request) -> HttpResponse:
    """The Prometheus text format; 404 unless METRICS_TOKEN is set, 401 without the token,
    403 with a wrong one."""
    if not settings.METRICS_TOKEN:
        raise Http404
    if "Authorization" not in request.headers:
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not _authorised(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
