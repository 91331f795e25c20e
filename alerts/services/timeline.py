"""Alerts on the incident's timeline: an alert's state move and the IncidentEvent recording it.

Every workflow of alerts moves an alert's state through ``alert_move`` (a conditional UPDATE,
recorded on the timeline); the batch send builds the same entries with ``alert_event``.
"""

from collections.abc import Collection
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.models import Alert
from amk.models.incident import IncidentEvent


def volunteer_label(alert: Alert) -> str:
    return _("Volunteer #%(id)s") % {"id": alert.volunteer_id or "–"}


def alert_event(
    alert: Alert, to_state: str, *, actor: User | None = None, note: str = ""
) -> IncidentEvent:
    """The timeline entry of an alert's move, unsaved (batches save theirs together)."""
    message = _("%(volunteer)s: %(state)s") % {
        "volunteer": volunteer_label(alert),
        "state": Alert.State(to_state).label,
    }
    return IncidentEvent(
        incident_id=alert.incident_id,
        alert_id=alert.pk,
        actor=actor,
        kind=IncidentEvent.Kind.for_alert_state(to_state),
        message=f"{message} ({note})" if note else message,
    )


def alert_move(
    alert: Alert,
    to_state: str,
    *,
    from_states: Collection[str],
    actor: User | None = None,
    note: str = "",
    **fields: Any,
) -> bool:
    """Move an alert's state if it is still in one of from_states; record it on the timeline.

    A move out of the live states stamps ``ended_at`` (the rest period after an incident
    counts from it).
    """
    now = timezone.now()
    if to_state not in Alert.LIVE_STATES:
        fields.setdefault("ended_at", now)
    moved = Alert.objects.filter(pk=alert.pk, state__in=from_states).update(
        state=to_state, updated_at=now, **fields
    )
    if moved:
        alert.state = to_state
        for name, value in fields.items():
            setattr(alert, name, value)
        alert_event(alert, to_state, actor=actor, note=note).save()
    return bool(moved)
