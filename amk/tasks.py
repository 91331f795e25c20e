"""Retention of the login audit, run by Celery beat (config/beat.py)."""

from celery import shared_task

from amk.services.accounts import login_events_expire


@shared_task
def login_events_expire_task() -> int:
    return login_events_expire()
