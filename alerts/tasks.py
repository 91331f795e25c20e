"""Celery tasks: ids in, one service call inside. Delivery tasks survive a dying worker. The
retention of the alerts' position snapshots runs by Celery beat (config/settings.py)."""

from celery import shared_task

from alerts import services
from alerts.services.retention import alert_locations_expire


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def incident_dispatch_task(incident_id: int) -> None:
    _send(services.incident_dispatch(incident_id=incident_id))


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliveries_send_task(delivery_ids: list[int]) -> None:
    _send(delivery_ids)


def _send(delivery_ids: list[int]) -> None:
    retries = services.deliveries_send(delivery_ids=delivery_ids)
    # Each retry waits its own backoff; those due at the same time go together.
    for countdown in sorted(set(retries.values())):
        due = [pk for pk, retry_in in retries.items() if retry_in == countdown]
        deliveries_send_task.apply_async((due,), countdown=countdown)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def alerts_sms_fallback_task(incident_id: int) -> None:
    services.alerts_sms_fallback(incident_id=incident_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def incident_escalate_task(incident_id: int, after_wave: int) -> None:
    services.incident_escalate(incident_id=incident_id, after_wave=after_wave)


@shared_task(ignore_result=True)
def sweep_task() -> None:
    services.sweep()


@shared_task
def alert_locations_expire_task() -> int:
    return alert_locations_expire()
