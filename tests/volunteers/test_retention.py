"""Retention of personal data by the beat tasks: locations, alert snapshots, codes and tokens."""

import datetime as dt

import pytest
from django.utils import timezone
from knox.models import AuthToken

from alerts.models import Alert
from tests.factories import AARHUS_C, AlertFactory, VolunteerFactory, point
from volunteers import services, tasks
from volunteers.models import PhoneCode, Volunteer

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def test_current_locations_older_than_the_retention_are_cleared(settings):
    settings.LOCATION_RETENTION_S = 24 * 3600
    old = VolunteerFactory(location_updated_at=timezone.now() - 25 * HOUR)
    fresh = VolunteerFactory(location_updated_at=timezone.now() - 23 * HOUR)

    assert tasks.locations_expire_task() == 1

    old = Volunteer.objects.get(pk=old.pk)
    assert old.location is None and old.location_updated_at is None
    assert old.location_accuracy_m is None
    assert Volunteer.objects.get(pk=fresh.pk).location is not None


def test_alert_location_snapshots_older_than_30_days_are_nulled(reference_geography):
    old = AlertFactory(volunteer_location=point(*AARHUS_C))
    recent = AlertFactory(volunteer_location=point(*AARHUS_C))
    Alert.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=31))

    assert tasks.alert_locations_expire_task() == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.volunteer_location is None and old.volunteer_id is not None
    assert recent.volunteer_location is not None


def test_expired_codes_and_tokens_are_removed():
    volunteer = VolunteerFactory()
    now = timezone.now()
    PhoneCode.objects.create(phone="+4560000001", code_hash="x", expires_at=now - HOUR)
    live = PhoneCode.objects.create(phone="+4560000002", code_hash="y", expires_at=now + HOUR)
    expired, _ = AuthToken.objects.create(user=volunteer.user, expiry=dt.timedelta(seconds=-1))
    valid_key = services.auth_token_create(user=volunteer.user)

    assert tasks.auth_cleanup_task() == {"codes": 1, "tokens": 1}

    assert list(PhoneCode.objects.all()) == [live]
    assert not AuthToken.objects.filter(digest=expired.digest).exists()
    assert AuthToken.objects.filter(token_key=valid_key[:15]).exists()


def test_retention_tasks_are_scheduled(settings):
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "volunteers.tasks.locations_expire_task",
        "volunteers.tasks.alert_locations_expire_task",
        "volunteers.tasks.auth_cleanup_task",
    } <= tasks_scheduled
