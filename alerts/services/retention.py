"""Retention of personal data in the alerts, run by Celery beat (alerts.tasks)."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from alerts.models import Alert, InboundMessage


def alert_locations_expire(*, now: dt.datetime | None = None) -> int:
    """Null the volunteer's position snapshot on alerts older than ALERT_LOCATION_RETENTION_DAYS."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.ALERT_LOCATION_RETENTION_DAYS)
    return Alert.objects.filter(created_at__lt=cutoff, volunteer_location__isnull=False).update(
        volunteer_location=None
    )


def inbound_messages_expire(*, now: dt.datetime | None = None) -> int:
    """Blank the sender's number, the text and the answer of SMS received more than
    ALERT_LOCATION_RETENTION_DAYS ago; the outcome stays for the statistics."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.ALERT_LOCATION_RETENTION_DAYS)
    return (
        InboundMessage.objects.filter(received_at__lt=cutoff)
        .exclude(from_phone="", body="", reply="")
        .update(from_phone="", body="", reply="")
    )
