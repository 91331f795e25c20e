"""Retention of personal data by the alerts' beat tasks: position snapshots, SMS received."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts import tasks
from alerts.models import Alert, InboundMessage
from tests.factories import AARHUS_C, AlertFactory, point

pytestmark = pytest.mark.django_db


def test_alert_location_snapshots_older_than_30_days_are_nulled(reference_geography):
    old = AlertFactory(volunteer_location=point(*AARHUS_C))
    recent = AlertFactory(volunteer_location=point(*AARHUS_C))
    Alert.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=31))

    assert tasks.alert_locations_expire_task() == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.volunteer_location is None
    assert old.volunteer_id is not None
    assert recent.volunteer_location is not None


def test_alert_retention_task_is_scheduled(settings):
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"alerts.tasks.alert_locations_expire_task"} <= tasks_scheduled


def test_sms_received_more_than_30_days_ago_lose_number_text_and_answer(settings):
    assert "alerts.tasks.inbound_messages_expire_task" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    old, recent = (
        InboundMessage.objects.create(
            message_sid=f"SM{n}",
            from_phone="+4520123456",
            body="JA 12",
            reply="Tak",
            outcome="declined",
        )
        for n in (1, 2)
    )
    InboundMessage.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - dt.timedelta(days=31)
    )

    assert tasks.inbound_messages_expire_task() == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.from_phone, old.body, old.reply, old.outcome) == ("", "", "", "declined")
    assert recent.from_phone == "+4520123456"
