"""The one module that queues alerts' Celery tasks: services call these, tasks call services."""

from alerts import tasks


def incident_dispatch_enqueue(*, incident_id: int) -> None:
    tasks.incident_dispatch_task.delay(incident_id)
