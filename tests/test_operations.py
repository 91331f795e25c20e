"""What operators watch (#15.6): /healthz with the worker's and beat's heartbeats, the
Prometheus metrics, JSON logs with the incident id, error reports to Sentry without personal
data. A real `celery worker` and `celery beat` run as processes where the health of those
processes is the point."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from alerts.models import AlertDelivery
from amk.models import Incident
from config import heartbeat
from config.logs import (
    JsonFormatter,
    LogContextFilter,
    PlainContextFormatter,
    log_context_reset,
    log_context_set,
)
from config.security import PersonalDataFilter
from tests.factories import (
    AARHUS_C,
    DispatcherFactory,
    DispatchPolicyFactory,
    VolunteerFactory,
    point,
)
from tests.fakes.failing_urls import CALLER_PHONE, PATIENT_ADDRESS, PATIENT_LAT, PATIENT_LON
from tests.fakes.sentry_server import FakeSentry
from tests.reliability.harness import process_env

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "metrics-token-for-tests-0123456789"


def wait_until(predicate, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def healthz(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        family.name: family for family in text_string_to_metric_families(response.content.decode())
    }


class Celery:
    """`celery -A config worker|beat` as a process of its own (its own process group), logging
    JSON at INFO to a file, with heartbeats every half second."""

    def __init__(self, settings, kind: str, log_dir: Path):
        args = [sys.executable, "-m", "celery", "-A", "config", kind, "--loglevel", "INFO"]
        if kind == "worker":
            args += ["-P", "prefork", "-c", "2", "-n", "ops@%h", "--without-gossip"]
            args += ["--without-mingle"]
        else:
            args += ["-s", str(log_dir / "beat-schedule"), "--max-interval", "1"]
        self.log_path = log_dir / f"{kind}.log"
        env = process_env(
            settings, {"HEARTBEAT_INTERVAL_S": "0.5", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
        )
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=30)

    def log_lines(self) -> list[dict]:
        lines = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


@pytest.fixture
def broker(settings):
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    yield
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.mark.django_db(transaction=True)
def test_one_incident_with_a_real_worker_and_beat_metrics_and_health(
    settings, reference_geography, broker, client, tmp_path
):
    settings.METRICS_TOKEN = TOKEN
    settings.HEALTH_STALE_S = 5.0  # heartbeats every 0.5 s: ten chances, even on a busy machine
    DispatchPolicyFactory(push_receipt_timeout_s=600, escalate_after_s=600)
    VolunteerFactory(location=point(AARHUS_C[0], AARHUS_C[1] + 0.002))

    status, body = healthz(client)
    assert status == 503
    assert body["worker"] == {"status": "missing"}
    assert body["beat"] == {"status": "missing"}

    worker = Celery(settings, "worker", tmp_path)
    beat = Celery(settings, "beat", tmp_path)
    try:
        answers: list[tuple[int, dict]] = []
        wait_until(
            lambda: answers.append(healthz(client)) or answers[-1][0] == 200,
            what="a healthy platform",
        )
        body = answers[-1][1]
        assert body["status"] == "ok"
        assert body["database"] == {"status": "ok"}
        assert body["redis"] == {"status": "ok"}
        assert body["worker"]["status"] == "ok"
        assert body["worker"]["age_s"] <= 5
        assert body["beat"]["status"] == "ok"
        assert body["beat"]["age_s"] <= 5

        # One incident, dispatched by the worker.
        client.force_login(DispatcherFactory())
        response = client.post(
            reverse("amk:incident_create"),
            {"location": f"{AARHUS_C[1]}, {AARHUS_C[0]}", "address": "Frederiks Allé 112"},
        )
        assert response.status_code == 302
        incident = Incident.objects.get()
        wait_until(
            lambda: AlertDelivery.objects.filter(sent_at__isnull=False).exists(),
            what="the first alert sent",
        )
        client.logout()

        # The metrics: only for the token's holder.
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        families = scrape(client, Authorization=f"Bearer {TOKEN}")
        first = families["hjertealarm_incident_first_delivery_seconds"]
        assert first.type == "histogram"
        samples = {(s.name, s.labels.get("le")): s.value for s in first.samples}
        assert samples[("hjertealarm_incident_first_delivery_seconds_count", None)] == 1
        assert samples[("hjertealarm_incident_first_delivery_seconds_bucket", "+Inf")] == 1
        seconds = samples[("hjertealarm_incident_first_delivery_seconds_sum", None)]
        sent = AlertDelivery.objects.filter(sent_at__isnull=False).earliest("sent_at").sent_at
        assert seconds == pytest.approx((sent - incident.created_at).total_seconds(), abs=0.01)
        deliveries = {
            (s.labels["channel"], s.labels["kind"], s.labels["state"]): s.value
            for s in families["hjertealarm_deliveries"].samples
        }
        assert deliveries[("sms", "alert", "sent")] == 1
        queues = {
            s.labels["queue"]: s.value for s in families["hjertealarm_celery_queue_length"].samples
        }
        assert set(queues) == {"celery", "(unacked)"}
        ages = {
            s.labels["process"]: s.value
            for s in families["hjertealarm_heartbeat_age_seconds"].samples
        }
        assert ages["worker"] < 60
        assert ages["beat"] < 60
        assert "hjertealarm_login_codes_sent" in families
        assert "hjertealarm_throttled_requests" in families

        # The worker's log lines about the incident's tasks carry its id (JSON, redacted).
        wait_until(
            lambda: any(line.get("incident_id") == incident.pk for line in worker.log_lines()),
            timeout=15,
            what="a worker log line with the incident id",
        )
        line = next(ln for ln in worker.log_lines() if ln.get("incident_id") == incident.pk)
        assert set(line) >= {"ts", "level", "logger", "message", "incident_id"}
        assert line["ts"].endswith("+00:00")

        # Beat killed (no goodbye): its heartbeat goes stale, the worker's stays fresh.
        beat.signal(9)
        wait_until(lambda: healthz(client)[1]["beat"]["status"] == "stale", what="beat stale")
        status, body = healthz(client)
        assert status == 503
        assert body["status"] == "unavailable"
        assert body["worker"]["status"] == "ok"

        # The worker stopped: it says so at once.
        worker.signal(15)
        status, body = healthz(client)
        assert status == 503
        assert body["worker"]["status"] in {"missing", "stale"}
    finally:
        beat.signal(15)
        worker.signal(15)


@pytest.mark.django_db
def test_healthz_with_fresh_heartbeats_and_the_parts_it_names(client, settings, broker):
    heartbeat.worker_heartbeat("w1@host")
    heartbeat.beat_heartbeat()
    status, body = healthz(client)
    assert status == 200
    assert set(body) == {"status", "database", "redis", "worker", "beat"}
    assert body["status"] == "ok"

    heartbeat.worker_gone("w1@host")
    status, body = healthz(client)
    assert status == 503
    assert body["worker"] == {"status": "missing"}
    assert body["beat"]["status"] == "ok"


def test_healthz_reports_redis_down(client, settings, db):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    status, body = healthz(client)
    assert status == 503
    assert body["database"] == {"status": "ok"}
    assert body["redis"] == {"status": "error"}
    assert body["worker"] == {"status": "unknown"}


def test_metrics_are_off_without_a_token(client, settings, db):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_throttled_requests_are_counted_for_every_process(
    client, settings, db, broker, fresh_cache
):
    settings.METRICS_TOKEN = TOKEN
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "otp_ip": "1/hour",
        },
    }
    url = "/api/v1/auth/code/"
    for phone in ("+4520000001", "+4520000002", "+4520000003"):
        client.post(url, {"phone": phone}, content_type="application/json")
    families = scrape(client, Authorization=f"Bearer {TOKEN}")
    throttled = {
        s.labels["view"]: s.value for s in families["hjertealarm_throttled_requests"].samples
    }
    assert throttled["CodeRequestApi"] == 2


def test_json_log_lines_carry_the_incident_and_no_personal_data():
    record = logging.LogRecord(
        "alerts.services.sending",
        logging.WARNING,
        __file__,
        1,
        "SMS to %s at %s failed",
        ("+4520123456", "56.157341, 10.203385"),
        None,
    )
    token = log_context_set(incident_id=42, alert_id="7")
    try:
        for log_filter in (PersonalDataFilter(), LogContextFilter()):
            log_filter.filter(record)
    finally:
        log_context_reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["incident_id"] == 42
    assert line["alert_id"] == 7
    assert line["level"] == "WARNING"
    assert line["logger"] == "alerts.services.sending"
    assert "+4520123456" not in line["message"]
    assert "56.157341" not in line["message"]
    assert line["message"] == "SMS to [phone] at [coord], [coord] failed"
    plain = PlainContextFormatter(fmt="%(levelname)s %(name)s %(message)s").format(record)
    assert plain == (
        "WARNING alerts.services.sending SMS to [phone] at [coord], [coord] failed "
        "incident_id=42 alert_id=7"
    )


def test_sentry_is_off_without_a_dsn(settings):
    import sentry_sdk

    assert settings.SENTRY_DSN == ""
    assert settings.SENTRY_ENABLED is False
    assert not sentry_sdk.get_client().is_active()


SENTRY_SCRIPT = """
import django, sentry_sdk
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings
assert settings.SENTRY_ENABLED and sentry_sdk.get_client().is_active()
with override_settings(ROOT_URLCONF="tests.fakes.failing_urls"):
    response = Client(raise_request_exception=False).post(
        "/ops-test/incidents/77/fail/?lat={lat}&lon={lon}",
        {{"address": "{address}", "phone": "{phone}"}},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
assert response.status_code == 500, response.status_code
sentry_sdk.flush(10)
"""


def test_an_error_in_a_view_reaches_sentry_without_personal_data(settings, tmp_path):
    """The real sentry-sdk and its HTTP transport, against a fake ingestion endpoint."""
    fake = FakeSentry().start()
    try:
        env = process_env(settings, {"SENTRY_DSN": fake.dsn, "LOG_LEVEL": "CRITICAL"})
        script = SENTRY_SCRIPT.format(
            lat=PATIENT_LAT, lon=PATIENT_LON, address=PATIENT_ADDRESS, phone=CALLER_PHONE
        )
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        events = fake.events()
    finally:
        fake.stop()
    assert len(events) == 1
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert "incident 77" in event["exception"]["values"][-1]["value"]
    assert event["tags"]["incident_id"] == "77"  # as in the log lines (config.logs)
    text = json.dumps(event)
    for secret in (
        PATIENT_ADDRESS,
        "Vestergade",
        PATIENT_LAT,
        PATIENT_LON,
        CALLER_PHONE,
        "4520123456",
        "198.51.100.7",
    ):
        assert secret not in text, secret


def test_a_login_code_twilio_refuses_counts_as_a_failed_task(
    dispatch_worker, twilio_backend_settings, fake_twilio, client, settings
):
    """Twilio answers 503 to a login code's SMS: the task fails in the real worker, and the
    failure shows in /metrics (counted in Redis, so any web process reports it)."""
    settings.METRICS_TOKEN = TOKEN
    fake_twilio.faults.error_rate = 1.0
    dispatch_worker.send_task("alerts.tasks.login_code_send_task", args=["+4520123456"])
    wait_until(lambda: len(fake_twilio.attempts) >= 1, timeout=30, what="the SMS attempt")

    def failures() -> dict:
        families = scrape(client, Authorization=f"Bearer {TOKEN}")
        return {
            s.labels["task"]: s.value
            for s in families["hjertealarm_celery_task_failures"].samples
            if s.name.endswith("_total")
        }

    wait_until(failures, timeout=30, what="the failure counted")
    assert failures() == {"alerts.tasks.login_code_send_task": 1}
    assert fake_twilio.messages.all() == []


@pytest.mark.django_db
def test_a_request_for_an_incident_logs_with_its_id(client):
    """The console's incident URL names the incident in the request's log lines (here
    Django's "Not Found" warning), through the handler every process logs with."""
    import io

    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        client.force_login(DispatcherFactory())
        response = client.get(reverse("amk:incident_detail", args=[987654]))
        client.get("/about/")  # a request without an incident: the id does not linger
    finally:
        handler.setStream(old)
    assert response.status_code == 404
    lines = stream.getvalue().splitlines()
    assert any("Not Found" in ln and ln.endswith("incident_id=987654") for ln in lines), lines
    assert not any("/about/" in ln and "incident_id" in ln for ln in lines)


@pytest.mark.parametrize(("log_format", "json_lines"), [("json", True), ("plain", False)])
def test_gunicorns_own_lines_follow_log_format(monkeypatch, log_format, json_lines):
    from gunicorn.config import Config

    from config.gunicorn import RedactingLogger

    monkeypatch.setenv("LOG_FORMAT", log_format)
    cfg = Config()
    cfg.set("accesslog", "-")
    log = RedactingLogger(cfg)
    formatters = [
        h.formatter
        for lg in (log.error_log, log.access_log)
        for h in lg.handlers
        if getattr(h, "_gunicorn", False)
    ]
    assert formatters
    assert all(isinstance(f, JsonFormatter) == json_lines for f in formatters)
