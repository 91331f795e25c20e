"""The one module that queues the CAD integration's tasks, by name (it imports no task), once
the rows that describe the work are committed: the callbacks are the outbox, and the sweep
(amk.cad.tasks.callbacks_sweep_task) re-queues what a lost enqueue left behind."""

from django.db import transaction

from config.celery import app

_TASKS = "amk.cad.tasks"


def callbacks_send_enqueue(*, callback_ids: list[int], countdown: float | None = None) -> None:
    app.send_task(f"{_TASKS}.callbacks_send_task", args=(callback_ids,), countdown=countdown)


def callbacks_send_on_commit(*, callback_ids: list[int]) -> None:
    if not callback_ids:
        return
    transaction.on_commit(lambda: callbacks_send_enqueue(callback_ids=callback_ids), robust=True)
