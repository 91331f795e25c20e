"""Retention of personal data in the alerts, run by Celery beat (alerts.tasks)."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from alerts.models import Alert


def alert_locations_expire(*, now: dt.datetime | None = None) -> int:
    """Null the volunteer's position snapshot on alerts older than ALERT_LOCATION_RETENTION_DAYS."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.ALERT_LOCATION_RETENTION_DAYS)
    return Alert.objects.filter(created_at__lt=cutoff, volunteer_location__isnull=False).update(
        volunteer_location=None
    )
