"""Things end: unanswered alerts expire after their validity, incidents left open close
themselves. Both by the incident's own copy of the policy, run by the periodic sweep (Celery
beat, every few seconds), idempotent: a repeated or concurrent run changes nothing more.

An expired alert can no longer be accepted (``alert_accept`` refuses it as too late, also in the
seconds before the sweep moves it), its pending alert messages stop, and in replace mode the
next nearest volunteer is alerted instead. An incident closed automatically goes through
``incident_close`` like the dispatcher's close: the responders get the closing message.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import ngettext

from alerts.models import Alert, AlertDelivery
from alerts.selectors.lifecycle import incidents_due_to_close
from alerts.selectors.policy import incident_policy
from alerts.services.timeline import alerts_move
from alerts.services.waves import replacements_top_up
from amk.models.incident import Incident
from amk.services.incidents import incident_close
from config.exceptions import ApplicationError

EXPIRED_DELIVERY_ERROR = "no longer relevant: the alert expired unanswered"


@transaction.atomic
def alerts_expire(*, incident_id: int, now: dt.datetime | None = None) -> int:
    """Expire the incident's alerts still unanswered past its ``alert_valid_s``: one timeline
    entry for them all, their pending alert messages stopped (not retried), replacements in
    replace mode. Returns how many expired."""
    now = now or timezone.now()
    incident = Incident.objects.select_for_update(no_key=True).filter(pk=incident_id).first()
    if incident is None:
        return 0
    valid_s = incident_policy(incident).alert_valid_s
    due = list(
        Alert.objects.filter(
            incident_id=incident_id,
            state__in=Alert.WAITING_STATES,
            created_at__lte=now - dt.timedelta(seconds=valid_s),
        ).order_by("pk")
    )
    expired = alerts_move(
        due,
        Alert.State.EXPIRED,
        from_states=Alert.WAITING_STATES,
        describe=lambda n: (
            ngettext(
                "%(n)d alert expired unanswered after %(min)d min",
                "%(n)d alerts expired unanswered after %(min)d min",
                n,
            )
            % {"n": n, "min": valid_s // 60}
        ),
    )
    if not expired:
        return 0
    # A message being sent right now finishes; its retry, if any, is found moot then.
    AlertDelivery.objects.filter(
        alert__in=expired, kind=AlertDelivery.Kind.ALERT, state=AlertDelivery.State.PENDING
    ).update(state=AlertDelivery.State.FAILED, last_error=EXPIRED_DELIVERY_ERROR, updated_at=now)
    replacements_top_up(incident_id=incident_id)
    return len(expired)


def incidents_auto_close(*, now: dt.datetime, fallback_after_s: int) -> int:
    """Close every incident left open past its ``auto_close_after_s`` (no actor; its own entry
    on the timeline). One closed meanwhile by the dispatcher or another run is left alone.
    Returns how many were closed."""
    closed = 0
    for incident_id, after_s in incidents_due_to_close(now=now, fallback_after_s=fallback_after_s):
        try:
            incident_close(incident_id=incident_id, actor=None, auto_after_s=after_s)
        except ApplicationError:
            continue
        closed += 1
    return closed
