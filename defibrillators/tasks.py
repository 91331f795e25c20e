"""The periodic AED import, run by Celery beat when AED_IMPORT_SOURCE is set
(config/settings.py)."""

from celery import shared_task

from defibrillators.services import aed_import_run


@shared_task(ignore_result=True)
def aed_import_task() -> str | None:
    run = aed_import_run()
    return None if run is None else run.status
