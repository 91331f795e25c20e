"""What has run out, by each incident's own policy: unanswered alerts past their validity, and
open incidents past their automatic close (the sweep's reads, a few rows each)."""

import datetime as dt

from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, IntegerField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from alerts.models import Alert
from amk.models.incident import Incident


def _policy_seconds(policy: str, key: str, fallback_s: int) -> Coalesce:
    """A number of seconds from an incident's copy of the policy (the JSON field ``policy``);
    the policy in force for an incident without one."""
    return Coalesce(
        Cast(KeyTextTransform(key, policy), IntegerField()),
        Value(fallback_s),
        output_field=IntegerField(),
    )


def _after(start: str, seconds: Coalesce | F) -> ExpressionWrapper:
    """``start`` plus a number of seconds, in SQL."""
    interval = ExpressionWrapper(
        seconds * Value(dt.timedelta(seconds=1), output_field=DurationField()),
        output_field=DurationField(),
    )
    return ExpressionWrapper(F(start) + interval, output_field=DateTimeField())


def incidents_with_alerts_expired(*, now: dt.datetime, fallback_valid_s: int) -> list[int]:
    """The incidents that have unanswered alerts past their ``alert_valid_s``, found through the
    partial index of unanswered alerts (``alert_waiting_idx``): answered history is not read."""
    valid_s = _policy_seconds("incident__dispatch_policy", "alert_valid_s", fallback_valid_s)
    return list(
        Alert.objects.filter(state__in=Alert.WAITING_STATES)
        .annotate(expires_at=_after("created_at", valid_s))
        .filter(expires_at__lte=now)
        .order_by("incident_id")
        .values_list("incident_id", flat=True)
        .distinct()
    )


def incidents_due_to_close(*, now: dt.datetime, fallback_after_s: int) -> list[tuple[int, int]]:
    """The open incidents left open past their ``auto_close_after_s``, as (id, that time)."""
    after_s = _policy_seconds("dispatch_policy", "auto_close_after_s", fallback_after_s)
    return list(
        Incident.objects.filter(state__in=Incident.OPEN_STATES)
        .annotate(after_s=after_s)
        .annotate(close_at=_after("created_at", F("after_s")))
        .filter(close_at__lte=now)
        .order_by("pk")
        .values_list("pk", "after_s")
    )
