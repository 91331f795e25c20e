"""Counters that every process adds to: Redis hashes, one field per label set.

Events that happen in request or worker processes (a throttled request, a failed task)
are counted here instead of in each process's memory, so /metrics (config.metrics) reports the
same totals whichever gunicorn worker answers the scrape, and a restart loses nothing. A
counter that cannot be written (Redis down) is skipped: counting never fails the request.
"""

from __future__ import annotations

import json
import logging

from config.heartbeat import redis_client

logger = logging.getLogger(__name__)

PREFIX = "hjertealarm:counter:"
THROTTLED_REQUESTS = "throttled_requests"
TASK_FAILURES = "task_failures"
TASK_RETRIES = "task_retries"


def counter_add(name: str, amount: int = 1, **labels: str) -> None:
    field = json.dumps(labels, sort_keys=True)
    try:
        redis_client().hincrby(PREFIX + name, field, amount)
    except Exception:
        logger.warning("counter %s not counted", name, exc_info=True)


def counter_values(name: str) -> list[tuple[dict[str, str], int]]:
    """Every label set of the counter with its total."""
    raw = redis_client().hgetall(PREFIX + name)
    return [(json.loads(field), int(value)) for field, value in raw.items()]


def task_failure_count(sender=None, **_extra) -> None:
    """Celery ``task_failure``: a task that raised (e.g. a login code Twilio refused)."""
    counter_add(TASK_FAILURES, task=getattr(sender, "name", str(sender)))


def task_retry_count(sender=None, **_extra) -> None:
    """Celery ``task_retry``: a task that will run again (a provider's transient error)."""
    counter_add(TASK_RETRIES, task=getattr(sender, "name", str(sender)))
