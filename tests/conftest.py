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


@pytest.fixture(scope="session")
def _celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker on the real Redis broker, in threads of this process."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # no tasks left over from another run
    with (
        django_db_blocker.unblock(),
        start_worker(
            app,
            pool="threads",
            concurrency=4,
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=15,
        ),
    ):
        yield app


@pytest.fixture
def dispatch_worker(transactional_db, _celery_worker):
    """For tests whose flow crosses the queue: committed data and a running worker."""
    yield _celery_worker
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


from tests.fakes.fixtures import *  # noqa: E402, F403
