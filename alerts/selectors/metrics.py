"""What the operators' metrics read (config.metrics builds the Prometheus families from it).

Read at scrape time from the database, the one truth every process shares, over the incidents
of a recent window (``since``): each read starts from the index on Incident.created_at and
follows the foreign-key indexes, so a scrape costs a few milliseconds however large the
history grows.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Min, Q

from alerts.models import AlertDelivery, AlertDeliveryAttempt
from amk.models.incident import Incident
from volunteers.models import CodeSend

PROVIDER_ERROR_OUTCOMES = (
    AlertDeliveryAttempt.Outcome.TRANSIENT_ERROR,
    AlertDeliveryAttempt.Outcome.PERMANENT_ERROR,
    AlertDeliveryAttempt.Outcome.OUTCOME_UNKNOWN,
)


def first_delivery_seconds(*, since: dt.datetime) -> tuple[list[float], int]:
    """Seconds from each incident's creation to its first alert handed to a provider (sent),
    for the incidents created since then; and how many of them have none sent yet."""
    rows = (
        Incident.objects.filter(created_at__gte=since)
        .annotate(
            first_sent_at=Min(
                "alerts__deliveries__sent_at",
                filter=Q(alerts__deliveries__kind=AlertDelivery.Kind.ALERT),
            )
        )
        .values_list("created_at", "first_sent_at")
    )
    seconds: list[float] = []
    without = 0
    for created_at, first_sent_at in rows:
        if first_sent_at is None:
            without += 1
        else:
            seconds.append(max(0.0, (first_sent_at - created_at).total_seconds()))
    return seconds, without


def deliveries_by_state(*, since: dt.datetime) -> list[tuple[str, str, str, int]]:
    """(channel, kind, state, count) of the deliveries for the incidents created since then."""
    return list(
        AlertDelivery.objects.filter(alert__incident__created_at__gte=since)
        .order_by()
        .values_list("channel", "kind", "state")
        .annotate(n=Count("id"))
    )


def provider_errors(*, since: dt.datetime) -> list[tuple[str, str, int]]:
    """(channel, outcome, count) of the provider calls that failed or whose answer was lost,
    for the incidents created since then."""
    return list(
        AlertDeliveryAttempt.objects.filter(
            delivery__alert__incident__created_at__gte=since,
            outcome__in=PROVIDER_ERROR_OUTCOMES,
        )
        .order_by()
        .values_list("delivery__channel", "outcome")
        .annotate(n=Count("id"))
    )


def codes_sent(*, since: dt.datetime) -> int:
    """Login codes accepted for sending since then (CodeSend keeps a day of them)."""
    return CodeSend.objects.filter(created_at__gte=since).count()
