"""The coverage grid's refresh, run by beat every COVERAGE_REFRESH_S (config/beat.py)."""

from celery import shared_task

from amk.insight.coverage import coverage_refresh


@shared_task(ignore_result=True)
def coverage_refresh_task() -> int:
    """Recount the volunteers and AEDs around every square now; a late run only counts later."""
    return coverage_refresh()
