"""The safety net of the outbox: the periodic sweep (Celery beat) that re-queues what a lost
enqueue or a dead worker left behind, so that it delays an alert by seconds and never loses it."""

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
from alerts.selectors.policy import dispatch_policy_current
from alerts.services.sending import sending_lease
from amk.models.incident import Incident


def sweep() -> dict[str, int]:
    """Re-queue forgotten incidents and deliveries, and the checks of dispatching incidents."""
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
    policy = dispatch_policy_current()
    dispatching = list(
        Incident.objects.filter(state=Incident.State.DISPATCHING).values_list(
            "pk", "dispatch_wave", "last_wave_at"
        )
    )
    for incident_id, wave, last_wave_at in dispatching:
        alerts_sms_fallback_enqueue(incident_id=incident_id)
        if last_wave_at and last_wave_at <= now - dt.timedelta(seconds=policy.escalate_after_s + 5):
            incident_escalate_enqueue(incident_id=incident_id, after_wave=wave)
    return {
        "incidents": len(pending_incidents),
        "deliveries": len(stale_deliveries),
        "dispatching": len(dispatching),
    }
