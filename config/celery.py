"""The one Celery app of the platform."""

import os

from celery import Celery
from celery.signals import task_failure, task_postrun, task_prerun, task_retry
from kombu import Connection

from config.counters import task_failure_count, task_retry_count
from config.heartbeat import WorkerHeartbeat
from config.logs import task_context_clear, task_context_set

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("hjertealarm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The worker's own heartbeat for /healthz (beat writes its own: CELERY_BEAT_SCHEDULER).
app.steps["worker"].add(WorkerHeartbeat)
# Log lines of a task carry its incident_id / alert_id (config.logs).
task_prerun.connect(task_context_set, weak=False)
task_postrun.connect(task_context_clear, weak=False)
# Failed and retried tasks, counted for /metrics across every worker (config.counters).
task_failure.connect(task_failure_count, weak=False)
task_retry.connect(task_retry_count, weak=False)

# kombu reconnects to a broker that went away with a growing back-off (2, 4, 6, ... up to 30 s
# between attempts); alerts cannot wait that long, so the worker and beat retry every second.
# docs/reliability.md has the measurement.
_ensure_connection = Connection._ensure_connection  # noqa: SLF001  pinned, tests/test_patched_internals.py


def _ensure_connection_fast(self, *args, interval_start=1, interval_step=0, interval_max=1, **kw):
    return _ensure_connection(
        self,
        *args,
        interval_start=interval_start,
        interval_step=interval_step,
        interval_max=interval_max,
        **kw,
    )


Connection._ensure_connection = _ensure_connection_fast  # noqa: SLF001  pinned, tests/test_patched_internals.py
