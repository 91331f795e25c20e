import uuid

import pytest
import redis
from django.conf import settings
from django.core.management import call_command


def _geography_missing() -> bool:
    from amk.models import Municipality

    return not Municipality.objects.filter(code="0751").exists()


@pytest.fixture(scope="session")
def _geography_committed(django_db_setup, django_db_blocker):
    """Load the real DAGI geography into the (reused) test database once, committed."""
    with django_db_blocker.unblock():
        if _geography_missing():
            call_command("load_geography", verbosity=0)


@pytest.fixture
def reference_geography(_geography_committed, db):
    """Regions, municipalities, postcodes and places from the real data files.

    pytest-django runs transactional tests last, and each flushes the tables afterwards: only
    those reload the geography.
    """
    if _geography_missing():
        call_command("load_geography", verbosity=0)


@pytest.fixture
def fresh_cache(settings):
    """Throttle and lock-out counters in a fresh Redis key space for the test."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            "TIMEOUT": 120,
        }
    }


def _flush_broker() -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture
def codes_sent_inline(monkeypatch):
    """Login codes are sent inside the request instead of through the queue (API tests that
    read the code from the outbox; tests/security/test_abuse.py sends them through a worker)."""
    from alerts import enqueue
    from alerts.services.codes import login_code_send

    monkeypatch.setattr(enqueue, "login_code_send_on_commit", login_code_send)


@pytest.fixture
def dispatch_worker(transactional_db):
    """A real Celery worker on the real Redis broker, in threads of this process.

    One per test: it stops, and the queue is emptied, before the test database is flushed, so
    no task of one test runs into the next one or into the flush.
    """
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    _flush_broker()
    with start_worker(
        app,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=15,
    ):
        yield app
    _flush_broker()


from tests.fakes.fixtures import *  # noqa: E402, F403
