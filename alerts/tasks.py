"""Celery tasks: ids in, one service call inside. Delivery tasks survive a dying worker. The
sweeps, the retention of the alerts' position snapshots and the AED expiry reminders run by
Celery beat (config/settings.py).

Tasks import services; services queue tasks by name through ``alerts.enqueue`` only.
"""

from celery import shared_task

from alerts.enqueue import aed_notices_send_enqueue, deliveries_retry_enqueue
from alerts.services import aed_notices, codes, deliveries, sweep, waves
from alerts.services.retention import alert_locations_expire, inbound_messages_expire


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def incident_dispatch_task(incident_id: int) -> None:
    _send(waves.incident_dispatch(incident_id=incident_id))


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliveries_send_task(delivery_ids: list[int]) -> None:
    _send(delivery_ids)


def _send(delivery_ids: list[int]) -> None:
    retries = deliveries.deliveries_send(delivery_ids=delivery_ids)
    # Each retry waits its own backoff; those due at the same time go together.
    for countdown in sorted(set(retries.values())):
        due = [pk for pk, retry_in in retries.items() if retry_in == countdown]
        deliveries_retry_enqueue(delivery_ids=due, countdown=countdown)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def alerts_sms_fallback_task(incident_id: int) -> None:
    waves.alerts_sms_fallback(incident_id=incident_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def incident_escalate_task(incident_id: int, after_wave: int) -> None:
    waves.incident_escalate(incident_id=incident_id, after_wave=after_wave)


@shared_task(ignore_result=True)
def sweep_task() -> None:
    sweep.sweep()


@shared_task
def alert_locations_expire_task() -> int:
    return alert_locations_expire()


@shared_task
def inbound_messages_expire_task() -> int:
    return inbound_messages_expire()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def aed_notices_send_task(notice_ids: list[int]) -> None:
    retries = aed_notices.aed_notices_send(notice_ids=notice_ids)
    for countdown in sorted(set(retries.values())):
        due = [pk for pk, retry_in in retries.items() if retry_in == countdown]
        aed_notices_send_enqueue(notice_ids=due, countdown=countdown)


@shared_task(ignore_result=True)
def aed_notices_sweep_task() -> int:
    """By beat: the messages to AED contacts a lost enqueue or a dead worker left behind."""
    due = aed_notices.aed_notices_due()
    if due:
        aed_notices_send_enqueue(notice_ids=due)
    return len(due)


@shared_task(ignore_result=True)
def aed_expiry_reminders_task() -> int:
    """By beat, daily: remind AEDs' contacts ahead of a battery's or pads' expiry."""
    return len(aed_notices.aed_expiry_notices_create())


@shared_task(ignore_result=True)
def login_code_send_task(phone: str) -> None:
    # Acknowledged on receipt: a code lost with a dying worker is asked for again, one sent
    # twice costs twice.
    codes.login_code_send(phone=phone)
