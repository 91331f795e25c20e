"""The safety net of the outbox and the clock of the lifecycle: the periodic sweep (Celery beat)
re-queues what a lost enqueue or a dead worker left behind, so that it delays an alert by
seconds and never loses it; queues the checks of dispatching incidents; expires unanswered
alerts and closes incidents left open (alerts.services.lifecycle), each by its incident's own
policy."""

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from alerts.enqueue import (
    alerts_sms_fallback_enqueue,
    deliveries_send_enqueue,
    incident_dispatch_enqueue,
    incident_escalate_enqueue,
)
from alerts.models import AlertDelivery
from alerts.selectors.lifecycle import incidents_with_alerts_expired
from alerts.selectors.policy import dispatch_policy_current, incident_policy
from alerts.services.lifecycle import alerts_expire, incidents_auto_close
from alerts.services.sending import sending_lease
from amk.models.incident import Incident


def sweep() -> dict[str, int]:
    """Re-queue forgotten incidents and deliveries and the checks of dispatching incidents;
    expire alerts and close incidents whose time has run out."""
    now = timezone.now()
    pending_incidents = list(
        Incident.objects.filter(
            state=Incident.State.PENDING_DISPATCH, created_at__lte=now - dt.timedelta(seconds=3)
        ).values_list("pk", flat=True)
    )
    for incident_id in pending_incidents:
        incident_dispatch_enqueue(incident_id=incident_id)
    stale_deliveries = list(
        AlertDelivery.objects.filter(
            Q(state=AlertDelivery.State.PENDING, next_attempt_at__lte=now - dt.timedelta(seconds=3))
            | Q(state=AlertDelivery.State.SENDING, updated_at__lt=now - sending_lease())
        ).values_list("pk", flat=True)[:1000]
    )
    deliveries_send_enqueue(delivery_ids=stale_deliveries)
    # For incidents without a copy of the policy (created before copies were made).
    current = dispatch_policy_current()
    dispatching = list(
        Incident.objects.filter(state=Incident.State.DISPATCHING).only(
            "pk", "dispatch_wave", "last_wave_at", "dispatch_policy"
        )
    )
    for incident in dispatching:
        alerts_sms_fallback_enqueue(incident_id=incident.pk)
        escalate_after_s = incident_policy(incident, fallback=current).escalate_after_s
        last_wave_at = incident.last_wave_at
        if last_wave_at and last_wave_at <= now - dt.timedelta(seconds=escalate_after_s + 5):
            incident_escalate_enqueue(incident_id=incident.pk, after_wave=incident.dispatch_wave)
    expired = sum(
        alerts_expire(incident_id=incident_id, now=now)
        for incident_id in incidents_with_alerts_expired(
            now=now, fallback_valid_s=current.alert_valid_s
        )
    )
    closed = incidents_auto_close(now=now, fallback_after_s=current.auto_close_after_s)
    return {
        "incidents": len(pending_incidents),
        "deliveries": len(stale_deliveries),
        "dispatching": len(dispatching),
        "expired": expired,
        "closed": closed,
    }
