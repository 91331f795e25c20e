"""Alerts on the incident's timeline: an alert's state move and the IncidentEvent recording it.

Every workflow of alerts moves an alert's state through ``alert_move`` (a conditional UPDATE,
recorded on the timeline), or, for many alerts at once (the expiry), ``alerts_move``: one
UPDATE and one timeline entry per incident for the batch, not one line per volunteer. The batch
send builds the same entries as ``alert_move`` with ``alert_event``. A move that sets, changes
or clears the alert's AED, or reports it collected, keeps the AED's use in step
(alerts.services.aed_uses: in use from the assignment until its return is confirmed).
"""

from collections.abc import Callable, Collection, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.models import Alert
from alerts.services.aed_uses import alert_aed_changed, alert_aed_collected
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
    previous_aed_id = None
    sets_aed = "aed" in fields or "aed_id" in fields
    if sets_aed:
        previous_aed_id = (
            Alert.objects.select_for_update(of=("self",))
            .filter(pk=alert.pk)
            .values_list("aed_id", flat=True)
            .first()
        )
    moved = Alert.objects.filter(pk=alert.pk, state__in=from_states).update(
        state=to_state, updated_at=now, **fields
    )
    if moved:
        alert.state = to_state
        for name, value in fields.items():
            setattr(alert, name, value)
        alert_event(alert, to_state, actor=actor, note=note).save()
        if sets_aed:
            alert_aed_changed(alert, previous_aed_id=previous_aed_id)
        elif to_state == Alert.State.AED_COLLECTED:
            alert_aed_collected(alert)
    return bool(moved)


def alerts_move(
    alerts: Sequence[Alert],
    to_state: str,
    *,
    from_states: Collection[str],
    describe: Callable[[int], str],
    actor: User | None = None,
    **fields: Any,
) -> list[Alert]:
    """Move the alerts still in one of from_states (the caller holds their incidents' locks);
    record the batch as one timeline entry per incident, ``describe(number moved)``. Returns
    the alerts moved."""
    movable = list(
        Alert.objects.select_for_update(of=("self",))
        .filter(pk__in=[a.pk for a in alerts], state__in=from_states)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not movable:
        return []
    Alert.objects.filter(pk__in=movable).update(state=to_state, updated_at=timezone.now(), **fields)
    movable_ids = set(movable)
    moved = [a for a in alerts if a.pk in movable_ids]
    by_incident: dict[int, int] = {}
    for alert in moved:
        alert.state = to_state
        for name, value in fields.items():
            setattr(alert, name, value)
        by_incident[alert.incident_id] = by_incident.get(alert.incident_id, 0) + 1
    IncidentEvent.objects.bulk_create(
        [
            IncidentEvent(
                incident_id=incident_id,
                actor=actor,
                kind=IncidentEvent.Kind.for_alert_state(to_state),
                message=describe(count),
            )
            for incident_id, count in by_incident.items()
        ]
    )
    return moved
