"""The one Celery app of the platform."""

import os

from celery import Celery
from kombu import Connection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("hjertealarm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The worker and beat reconnect to a broker that went away with kombu's default back-off
# (2, 4, 6, ... up to 30 s between attempts), which alone delayed alerts by up to 12 s after a
# 30 s Redis outage (tests/reliability, broker_down). Alerts cannot wait: retry every second.
_ensure_connection = Connection._ensure_connection


def _ensure_connection_fast(self, *args, interval_start=1, interval_step=0, interval_max=1, **kw):
    return _ensure_connection(
        self,
        *args,
        interval_start=interval_start,
        interval_step=interval_step,
        interval_max=interval_max,
        **kw,
    )


Connection._ensure_connection = _ensure_connection_fast
