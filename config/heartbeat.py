"""Heartbeats of the Celery worker and beat, in Redis, for /healthz (config.views).

Each process proves itself: the worker from a timer in its own main process (``WorkerHeartbeat``,
a bootstep, added in config.celery), beat from its scheduler loop (``HeartbeatScheduler``,
CELERY_BEAT_SCHEDULER). So a stopped beat shows as a stale beat while the worker stays fresh,
and the other way round. Several workers share one sorted set (member: the worker's name, score:
the time); the freshest counts, and a worker that stops cleanly removes itself at once.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from celery import bootsteps
from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)

WORKERS_KEY = "hjertealarm:heartbeat:workers"
BEAT_KEY = "hjertealarm:heartbeat:beat"

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def redis_client() -> redis.Redis:
    """One client (connection pool) per process and URL, with short time-outs: a health
    check or a heartbeat must not hang on a Redis that went away."""
    url = settings.REDIS_URL
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=2, socket_timeout=2, retry_on_timeout=False
            )
            _clients[url] = client
        return client


def worker_heartbeat(name: str) -> None:
    client = redis_client()
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zadd(WORKERS_KEY, {name: now})
    pipe.zremrangebyscore(WORKERS_KEY, 0, now - 24 * 3600)  # workers gone for a day
    pipe.execute()


def worker_gone(name: str) -> None:
    redis_client().zrem(WORKERS_KEY, name)


def beat_heartbeat() -> None:
    redis_client().set(BEAT_KEY, repr(time.time()))


def heartbeat_ages() -> dict[str, float | None]:
    """Seconds since the freshest worker's and beat's heartbeats (None: never seen)."""
    client = redis_client()
    pipe = client.pipeline(transaction=False)
    pipe.zrevrange(WORKERS_KEY, 0, 0, withscores=True)
    pipe.get(BEAT_KEY)
    freshest, beat = pipe.execute()
    now = time.time()
    return {
        "worker": max(0.0, now - freshest[0][1]) if freshest else None,
        "beat": max(0.0, now - float(beat)) if beat else None,
    }


def _safely(write, *args) -> None:
    try:
        write(*args)
    except Exception as exc:  # Redis down: /healthz reports it; the worker and beat carry on
        logger.warning("heartbeat not written: %s", exc)


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Writes the worker's heartbeat every HEARTBEAT_INTERVAL_S from its own timer."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        name = worker.hostname
        _safely(worker_heartbeat, name)
        self.tref = worker.timer.call_repeatedly(
            settings.HEARTBEAT_INTERVAL_S, _safely, (worker_heartbeat, name), priority=10
        )

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        _safely(worker_gone, worker.hostname)


class HeartbeatScheduler(PersistentScheduler):
    """Celery beat's default scheduler, writing beat's heartbeat from its loop."""

    _last_heartbeat = 0.0

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_heartbeat >= settings.HEARTBEAT_INTERVAL_S:
            self._last_heartbeat = now
            _safely(beat_heartbeat)
        interval = super().tick(*args, **kwargs)
        # Sleep no longer than a heartbeat interval, so the heartbeat keeps its pace.
        return min(interval, settings.HEARTBEAT_INTERVAL_S)

    def close(self):
        super().close()
        _safely(redis_client().delete, BEAT_KEY)  # stopped cleanly: stale at once
