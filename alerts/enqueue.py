"""The one module that queues alerts' Celery tasks.

Services call these functions and the tasks (alerts/tasks.py) call the services. Tasks are
queued by name through the Celery app, so this module imports neither: no services↔tasks circle.
Work made inside a transaction is queued once it commits, robustly: a broker outage never undoes
or fails the caller's work, and the periodic sweep re-queues what it finds left behind.
"""

from django.db import transaction

from config.celery import app

# A batch is claimed and handed over at once, so every message in it must leave at once: a
# message still queued behind others in the pool could outlive its lease and be taken over and
# sent twice. Hence one thread per delivery of a batch (alerts.services.sending), and batches no
# larger than that.
SEND_BATCH = 32

_TASKS = "alerts.tasks"


def incident_dispatch_enqueue(*, incident_id: int) -> None:
    app.send_task(f"{_TASKS}.incident_dispatch_task", args=(incident_id,))


def deliveries_send_enqueue(*, delivery_ids: list[int]) -> None:
    """Queue the sends now, in batches of SEND_BATCH."""
    for start in range(0, len(delivery_ids), SEND_BATCH):
        app.send_task(
            f"{_TASKS}.deliveries_send_task", args=(delivery_ids[start : start + SEND_BATCH],)
        )


def deliveries_send_on_commit(*, delivery_ids: list[int]) -> None:
    """Queue the sends, in batches, once the rows that describe them are committed."""
    if not delivery_ids:
        return
    transaction.on_commit(lambda: deliveries_send_enqueue(delivery_ids=delivery_ids), robust=True)


def deliveries_retry_enqueue(*, delivery_ids: list[int], countdown: int) -> None:
    """Queue one task for the deliveries whose retry is due after the same backoff."""
    app.send_task(f"{_TASKS}.deliveries_send_task", args=(delivery_ids,), countdown=countdown)


def login_code_send_on_commit(*, phone: str) -> None:
    """Queue a login code's SMS once the budget's record of it is committed."""
    transaction.on_commit(
        lambda: app.send_task(f"{_TASKS}.login_code_send_task", args=(phone,)), robust=True
    )


def alerts_sms_fallback_enqueue(*, incident_id: int, countdown: int | None = None) -> None:
    app.send_task(f"{_TASKS}.alerts_sms_fallback_task", args=(incident_id,), countdown=countdown)


def alerts_sms_fallback_on_commit(*, incident_id: int, countdown: int) -> None:
    """The push→SMS fallback check for alerts made in this transaction, once it commits."""
    transaction.on_commit(
        lambda: alerts_sms_fallback_enqueue(incident_id=incident_id, countdown=countdown),
        robust=True,
    )


def incident_escalate_enqueue(
    *, incident_id: int, after_wave: int, countdown: int | None = None
) -> None:
    app.send_task(
        f"{_TASKS}.incident_escalate_task", args=(incident_id, after_wave), countdown=countdown
    )


def wave_timers_on_commit(
    *, incident_id: int, wave: int, sms_fallback_after_s: int, escalate_after_s: int
) -> None:
    """Once the wave is committed: the push→SMS fallback check and the next-wave check."""

    def queue() -> None:
        alerts_sms_fallback_enqueue(incident_id=incident_id, countdown=sms_fallback_after_s)
        incident_escalate_enqueue(
            incident_id=incident_id, after_wave=wave, countdown=escalate_after_s
        )

    transaction.on_commit(queue, robust=True)


def aed_notices_send_enqueue(*, notice_ids: list[int], countdown: int | None = None) -> None:
    """Queue the sending of messages to AEDs' contacts (alerts.services.aed_notices)."""
    app.send_task(f"{_TASKS}.aed_notices_send_task", args=(notice_ids,), countdown=countdown)


def aed_notices_send_on_commit(*, notice_ids: list[int]) -> None:
    if not notice_ids:
        return
    transaction.on_commit(lambda: aed_notices_send_enqueue(notice_ids=notice_ids), robust=True)
