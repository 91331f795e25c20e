"""Alerts on the incident's timeline: an alert's state move and the IncidentEvent recording it.

Every workflow of alerts moves an alert's state through ``alert_move`` (a conditional UPDATE,
recorded on the timeline); the batch send builds the same entries with ``alert_event``. A move
that sets, changes or clears the alert's AED, or reports it collected, keeps the AED's use in
step (alerts.services.aed_uses: in use from the assignment until its return is confirmed).
"""

from collections.abc import Collection
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.models import Alert
from alerts.services.aed_uses import alert_aed_changed, alert_aed_collected
from amk.models.incident import IncidentEvent


def volunteer_label(alert: Alert) -> str:
    return _("Volunteer #%(id)s") % {"id": alert.volunteer_id or "–"}


def alert_event(alert: Alert, to_state: str, *, actor: User | None = None) -> IncidentEvent:
    """The timeline entry of an alert's move, unsaved (batches save theirs together)."""
    return IncidentEvent(
        incident_id=alert.incident_id,
        alert_id=alert.pk,
        actor=actor,
        kind=IncidentEvent.Kind.for_alert_state(to_state),
        message=_("%(volunteer)s: %(state)s")
        % {"volunteer": volunteer_label(alert), "state": Alert.State(to_state).label},
    )


def alert_move(
    alert: Alert,
    to_state: str,
    *,
    from_states: Collection[str],
    actor: User | None = None,
    **fields: Any,
) -> bool:
    """Move an alert's state if it is still in one of from_states; record it on the timeline."""
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
        state=to_state, updated_at=timezone.now(), **fields
    )
    if moved:
        alert.state = to_state
        for name, value in fields.items():
            setattr(alert, name, value)
        alert_event(alert, to_state, actor=actor).save()
        if sets_aed:
            alert_aed_changed(alert, previous_aed_id=previous_aed_id)
        elif to_state == Alert.State.AED_COLLECTED:
            alert_aed_collected(alert)
    return bool(moved)
