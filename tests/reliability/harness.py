"""Real processes for fault injection: a `celery -A config worker` (prefork) and `celery beat`
as subprocesses on the test database, the real Twilio/FCM clients against the fake providers,
and the bookkeeping that counts lost and duplicated messages at the providers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from django.db import connection
from django.db.models import F

from alerts.models import Alert, AlertDelivery
from amk.models import Incident

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = Path(os.environ.get("RELIABILITY_RESULTS_DIR", ROOT / "var" / "reliability"))


def record(fault: str, **figures) -> None:
    """Keep a fault's figures for scripts/reliability.sh (docs/reliability.json)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{fault}.json").write_text(json.dumps(figures, indent=2, default=str))


def _database_url() -> str:
    s = connection.settings_dict
    return (
        f"postgis://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
        f"/{s['NAME']}"
    )


def process_env(settings, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "APP_MODE": "test",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "SMS_BACKEND": settings.SMS_BACKEND,
            "PUSH_BACKEND": settings.PUSH_BACKEND,
            "TWILIO_ACCOUNT_SID": settings.TWILIO_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": settings.TWILIO_AUTH_TOKEN,
            "TWILIO_FROM": settings.TWILIO_FROM,
            "TWILIO_API_BASE": settings.TWILIO_API_BASE,
            "TWILIO_TIMEOUT_S": str(settings.TWILIO_TIMEOUT_S),
            "FIREBASE_CREDENTIALS_FILE": settings.FIREBASE_CREDENTIALS_FILE,
            "FCM_API_BASE": settings.FCM_API_BASE,
            "FCM_TIMEOUT_S": str(settings.FCM_TIMEOUT_S),
            "DB_CONN_MAX_AGE": "60",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra or {})
    return env


class CeleryProcess:
    """`celery -A config worker|beat` in its own process group, so SIGKILL takes all of it."""

    def __init__(self, settings, kind: str, log_dir: Path, *, concurrency: int = 4):
        self.settings = settings
        self.kind = kind
        self.log_dir = log_dir
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> CeleryProcess:
        self.starts += 1
        args = [sys.executable, "-m", "celery", "-A", "config", self.kind, "--loglevel", "WARNING"]
        if self.kind == "worker":
            args += ["-P", "prefork", "-c", str(self.concurrency), "-n", f"rel{self.starts}@%h"]
            args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        else:
            args += ["-s", str(self.log_dir / "beat-schedule"), "--max-interval", "1"]
        log = open(self.log_dir / f"{self.kind}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=process_env(self.settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def pids(self) -> list[int]:
        """The main process and its pool children."""
        if not self.proc:
            return []
        out = subprocess.run(
            ["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True, check=False
        )
        return [int(p) for p in out.stdout.split()]

    def rss_kib(self) -> int:
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total


def settled() -> bool:
    """Nothing left to do: no incident waiting for dispatch, no delivery pending or sending."""
    return (
        not Incident.objects.filter(state=Incident.State.PENDING_DISPATCH).exists()
        and not AlertDelivery.objects.filter(
            state__in=[AlertDelivery.State.PENDING, AlertDelivery.State.SENDING]
        ).exists()
    )


def wait_settled(timeout: float) -> float | None:
    """Seconds until settled, or None if it did not settle in time."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if settled():
            return time.monotonic() - start
        time.sleep(0.5)
    return None


def account(fake_twilio, fake_fcm) -> dict:
    """Compare what the database says was sent with what reached the providers.

    lost: an incident never dispatched, an alert without a delivery, a delivery not sent (and
    not failed for a permanent reason), or a sent one the provider never got; duplicated:
    messages the provider got beyond one per delivery.
    """
    sent = AlertDelivery.objects.filter(state=AlertDelivery.State.SENT)
    expected_sms = Counter(
        str(p)
        for p in sent.filter(channel=AlertDelivery.Channel.SMS).values_list(
            "alert__volunteer__phone", flat=True
        )
    )
    expected_push = Counter(
        sent.filter(channel=AlertDelivery.Channel.PUSH).values_list("alert_id", flat=True)
    )
    got_sms = Counter(m.to for m in fake_twilio.messages.all())
    # A push sent again under the same collapse id replaces the first on the phone: what the
    # volunteer sees is one notification per (alert, collapse id).
    shown = {
        (int(m.data["alert_id"]), m.apns.get("headers", {}).get("apns-collapse-id"))
        for m in fake_fcm.messages.all()
    }
    got_push = Counter(alert_id for alert_id, _collapse in shown)
    duplicated = sum(max(0, got_sms[k] - expected_sms[k]) for k in got_sms) + sum(
        max(0, got_push[k] - expected_push[k]) for k in got_push
    )
    missing_at_provider = sum(max(0, expected_sms[k] - got_sms[k]) for k in expected_sms) + sum(
        max(0, expected_push[k] - got_push[k]) for k in expected_push
    )
    undispatched = Incident.objects.filter(state=Incident.State.PENDING_DISPATCH).count()
    without_delivery = Alert.objects.filter(deliveries__isnull=True).count()
    unsent = AlertDelivery.objects.filter(
        state__in=[AlertDelivery.State.PENDING, AlertDelivery.State.SENDING]
    ).count()
    # An alert is lost when none of its channels reached the volunteer, unless it was moot
    # before it went out: its incident ended, or enough others accepted and it was released
    # (the delivery fails as "no longer relevant"; counted apart, as alerts_moot).
    unreached = Alert.objects.exclude(
        deliveries__state__in=[AlertDelivery.State.SENT, AlertDelivery.State.DELIVERED]
    )
    alerts_moot = (
        unreached.filter(deliveries__last_error__startswith="no longer relevant").distinct().count()
    )
    alerts_unreached = unreached.count() - alerts_moot
    return {
        "incidents": Incident.objects.count(),
        "alerts": Alert.objects.count(),
        "deliveries": AlertDelivery.objects.count(),
        "sent": sent.count(),
        "failed": AlertDelivery.objects.filter(state=AlertDelivery.State.FAILED).count(),
        "provider_sms": sum(got_sms.values()),
        "provider_push": len(fake_fcm.messages.all()),
        "push_notifications_shown": sum(got_push.values()),
        "undispatched_incidents": undispatched,
        "alerts_without_delivery": without_delivery,
        "deliveries_unsent": unsent,
        "alerts_unreached": alerts_unreached,
        "alerts_moot": alerts_moot,
        "missing_at_provider": missing_at_provider,
        "lost": undispatched + without_delivery + unsent + missing_at_provider + alerts_unreached,
        "duplicated": duplicated,
    }


def alert_latency_s() -> float:
    """The longest time from an incident's creation to the first send of each of its alerts."""
    worst = 0.0
    rows = AlertDelivery.objects.filter(
        kind=AlertDelivery.Kind.ALERT, sent_at__isnull=False
    ).values_list("alert__incident__created_at", "sent_at")
    for created, sent_at in rows:
        worst = max(worst, (sent_at - created).total_seconds())
    return round(worst, 1)


def slowest_alerts(n: int = 5) -> list[dict]:
    """The alert sends that came latest after their incident, with what the delivery went
    through: where an outlier latency comes from (a lease, a backoff, a restored message)."""
    rows = (
        AlertDelivery.objects.filter(kind=AlertDelivery.Kind.ALERT, sent_at__isnull=False)
        .select_related("alert__incident")
        .order_by(F("alert__incident__created_at") - F("sent_at"))[:n]
    )
    return [
        {
            "delivery": d.pk,
            "channel": d.channel,
            "attempts": d.attempts,
            "incident_created": d.alert.incident.created_at.isoformat(timespec="milliseconds"),
            "delivery_created_s": round(
                (d.created_at - d.alert.incident.created_at).total_seconds(), 1
            ),
            "sent_s": round((d.sent_at - d.alert.incident.created_at).total_seconds(), 1),
            "last_error": d.last_error[:200],
        }
        for d in rows
    ]


def slowest_dispatches(n: int = 5) -> list[dict]:
    """Incidents whose first wave was created latest after the incident."""
    from django.db.models import Min

    rows = (
        Incident.objects.annotate(first_delivery=Min("alerts__deliveries__created_at"))
        .filter(first_delivery__isnull=False)
        .order_by(F("created_at") - F("first_delivery"))[:n]
    )
    return [
        {
            "incident": i.pk,
            "created": i.created_at.isoformat(timespec="milliseconds"),
            "dispatched_after_s": round((i.first_delivery - i.created_at).total_seconds(), 1),
        }
        for i in rows
    ]
