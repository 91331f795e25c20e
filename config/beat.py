"""What Celery beat runs and how often: the safety-net sweep, retention, the AEDs' imports and
their contacts' messages. Read by config/settings.py into CELERY_BEAT_SCHEDULE."""

from celery.schedules import crontab


def beat_schedule(*, aed_import_every_s: int | None) -> dict[str, dict]:
    """The periodic tasks; the AED import only when a source is configured."""
    schedule: dict[str, dict] = {
        # The outbox sweep: incidents and deliveries a lost enqueue left behind, expiries,
        # automatic closes (alerts.services.sweep).
        "dispatch-sweep": {"task": "alerts.tasks.sweep_task", "schedule": 5.0},
        # Retention of personal data (volunteers/tasks.py, alerts/tasks.py).
        "volunteer-locations-expire": {
            "task": "volunteers.tasks.locations_expire_task",
            "schedule": 15 * 60.0,
        },
        "alert-locations-expire": {
            "task": "alerts.tasks.alert_locations_expire_task",
            "schedule": 3600.0,
        },
        "inbound-messages-expire": {
            "task": "alerts.tasks.inbound_messages_expire_task",
            "schedule": 3600.0,
        },
        "auth-cleanup": {"task": "volunteers.tasks.auth_cleanup_task", "schedule": 3600.0},
        # The console's and the admin's login audit (amk.tasks), LOGIN_EVENT_RETENTION_DAYS.
        "login-events-expire": {"task": "amk.tasks.login_events_expire_task", "schedule": 3600.0},
        # The messages to AEDs' contacts (alerts.services.aed_notices): what a lost enqueue
        # left behind, and the reminders ahead of a battery's or pads' expiry once a day.
        "aed-notices-sweep": {"task": "alerts.tasks.aed_notices_sweep_task", "schedule": 30.0},
        "aed-expiry-reminders": {
            "task": "alerts.tasks.aed_expiry_reminders_task",
            "schedule": crontab(hour=8, minute=0),  # UTC: 9 or 10 o'clock in Denmark
        },
    }
    if aed_import_every_s is not None:
        schedule["aed-import"] = {
            "task": "defibrillators.tasks.aed_import_task",
            "schedule": float(aed_import_every_s),
        }
    return schedule
