"""Retention of personal data, run by Celery beat (config/settings.py CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from volunteers.services.accounts import auth_records_cleanup
from volunteers.services.location import volunteer_locations_expire


@shared_task
def locations_expire_task() -> int:
    return volunteer_locations_expire()


@shared_task
def auth_cleanup_task() -> dict[str, int]:
    return auth_records_cleanup()
