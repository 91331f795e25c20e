"""The console's incident list: those that need the dispatcher first (with the reason), then
the other open incidents, then those ended in the last 24 h."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from alerts.selectors.incident import incidents_with_alert_counts, zero_counts
from alerts.selectors.policy import incident_policy_lookup
from amk.console.attention import Attention, incident_attention
from amk.models.incident import Incident

CONSOLE_ENDED_WITHIN = dt.timedelta(hours=24)


def console_incidents(*, now: dt.datetime | None = None) -> QuerySet[Incident]:
    """Open incidents and those ended in the last 24 h, newest first, each with its alert
    counts (``alert_counts``, as the board counts them; one query)."""
    now = now or timezone.now()
    incidents = (
        Incident.objects.filter(
            Q(state__in=Incident.OPEN_STATES) | Q(closed_at__gte=now - CONSOLE_ENDED_WITHIN)
        )
        .select_related("municipality")
        .defer("municipality__area")
        .order_by("-created_at")
    )
    return incidents_with_alert_counts(incidents)


@dataclass
class IncidentRow:
    """One line of the console's list."""

    incident: Incident
    counts: dict[str, int]  # as the board counts (zeros when nobody was alerted)
    attention: list[Attention]  # why it needs the dispatcher, most urgent first
    age_s: int
    extra_wave: bool  # a wave beyond the policy's maximum was sent

    @property
    def rank(self) -> tuple[int, int]:
        if self.attention:
            return (0, self.attention[0].rank)
        return (1 if self.incident.is_open else 2, 0)


def incident_list_rows(*, now: dt.datetime | None = None) -> list[IncidentRow]:
    """The console's list in order: incidents that need attention (most urgent reason first),
    the other open ones, the ended ones; newest first within each. Each is judged by the policy
    it was created under."""
    now = now or timezone.now()
    rows = []
    policy_of = incident_policy_lookup()
    for incident in console_incidents(now=now):
        policy = policy_of(incident)
        counts = getattr(incident, "alert_counts", None) or zero_counts()
        attention = incident_attention(incident, counts=counts, policy=policy, now=now)
        rows.append(
            IncidentRow(
                incident=incident,
                counts=counts,
                attention=sorted(attention, key=lambda reason: reason.rank),
                age_s=int((now - incident.created_at).total_seconds()),
                extra_wave=incident.dispatch_wave > policy.max_waves,
            )
        )
    # Stable: newest first within each group, as the query returned them.
    rows.sort(key=lambda row: row.rank)
    return rows
