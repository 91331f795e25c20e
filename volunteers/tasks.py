"""Retention of personal data, run by Celery beat (config/settings.py CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from volunteers import services


@shared_task
def locations_expire_task() -> int:
    return services.volunteer_locations_expire()


@shared_task
def alert_locations_expire_task() -> int:
    return services.alert_locations_expire()


@shared_task
def auth_cleanup_task() -> dict[str, int]:
    return services.auth_records_cleanup()
