"""The CAD integration's Celery tasks: ids in, a service call inside."""

from celery import shared_task

from amk.cad.enqueue import callbacks_send_enqueue
from amk.cad.services.callbacks import callbacks_send, callbacks_sweep


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def callbacks_send_task(callback_ids: list[int]) -> None:
    retries = callbacks_send(callback_ids=callback_ids)
    for countdown in sorted(set(retries.values())):
        due = [pk for pk, wait in retries.items() if wait == countdown]
        callbacks_send_enqueue(callback_ids=due, countdown=countdown)


@shared_task(ignore_result=True)
def callbacks_sweep_task() -> int:
    return callbacks_sweep()
