"""Retention of personal data by the volunteers' beat tasks: locations, codes and tokens."""

import datetime as dt

import pytest
from django.utils import timezone
from knox.models import AuthToken

from tests.factories import VolunteerFactory
from volunteers import tasks
from volunteers.models import PhoneCode, Volunteer
from volunteers.services.accounts import auth_token_create

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def test_current_locations_older_than_the_retention_are_cleared(settings):
    settings.LOCATION_RETENTION_S = 24 * 3600
    old = VolunteerFactory(location_updated_at=timezone.now() - 25 * HOUR)
    fresh = VolunteerFactory(location_updated_at=timezone.now() - 23 * HOUR)

    assert tasks.locations_expire_task() == 1

    old = Volunteer.objects.get(pk=old.pk)
    assert old.location is None
    assert old.location_updated_at is None
    assert old.location_accuracy_m is None
    assert Volunteer.objects.get(pk=fresh.pk).location is not None


def test_expired_codes_and_tokens_are_removed():
    volunteer = VolunteerFactory()
    now = timezone.now()
    PhoneCode.objects.create(phone="+4560000001", code_hash="x", expires_at=now - HOUR)
    live = PhoneCode.objects.create(phone="+4560000002", code_hash="y", expires_at=now + HOUR)
    expired, _ = AuthToken.objects.create(user=volunteer.user, expiry=dt.timedelta(seconds=-1))
    valid_key = auth_token_create(user=volunteer.user)

    assert tasks.auth_cleanup_task() == {"codes": 1, "tokens": 1, "code_sends": 0}

    assert list(PhoneCode.objects.all()) == [live]
    assert not AuthToken.objects.filter(digest=expired.digest).exists()
    assert AuthToken.objects.filter(token_key=valid_key[:15]).exists()


def test_retention_tasks_are_scheduled(settings):
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "volunteers.tasks.locations_expire_task",
        "volunteers.tasks.auth_cleanup_task",
    } <= tasks_scheduled
