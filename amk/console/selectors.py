"""The console's incident list: open incidents first, then those ended in the last 24 h."""

import datetime as dt

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.utils import timezone

from alerts.selectors.incident import incidents_with_alert_counts
from amk.models.incident import Incident

CONSOLE_ENDED_WITHIN = dt.timedelta(hours=24)


def console_incidents(*, now: dt.datetime | None = None) -> QuerySet:
    """Open incidents first, then those ended in the last 24 h; counts annotated (one query)."""
    now = now or timezone.now()
    incidents = (
        Incident.objects.filter(
            Q(state__in=Incident.OPEN_STATES) | Q(closed_at__gte=now - CONSOLE_ENDED_WITHIN)
        )
        .select_related("municipality")
        .defer("municipality__area")
    )
    return (
        incidents_with_alert_counts(incidents)
        .annotate(
            ended=Case(
                When(state__in=Incident.OPEN_STATES, then=Value(False)),
                default=Value(True),
                output_field=BooleanField(),
            ),
        )
        .order_by("ended", "-created_at")
    )
