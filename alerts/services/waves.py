"""Dispatch and escalation: the waves of alerts for an incident, and the push→SMS fallback.

``incident_dispatch`` alerts the first wave of an incident still pending dispatch (the outbox);
``incident_escalate`` sends the next, wider one while too few have accepted (or when the
dispatcher asks); each wave schedules its own fallback and escalation checks once committed.
``alerts_sms_fallback`` adds an SMS for every push alert the app has not confirmed in time.
"""

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alerts.enqueue import deliveries_send_on_commit, wave_timers_on_commit
from alerts.messages import kilometres
from alerts.models import Alert, AlertDelivery, DispatchPolicy
from alerts.selectors.incident import accepted_count
from alerts.selectors.policy import dispatch_policy_current
from alerts.selectors.selection import dispatch_candidates
from alerts.services.deliveries import deliveries_create, sms_only
from amk.models.incident import Incident, IncidentEvent
from amk.services.incidents import incident_event_add, incident_transition, incident_wave_record
from volunteers.models import Device


def _alert_channels(alerts: list[Alert]) -> dict[int, list[str]]:
    """Push where the app can receive it; SMS for the corps and for those without the app."""
    with_device = set(
        Device.objects.filter(volunteer__in=[a.volunteer_id for a in alerts], is_active=True)
        .values_list("volunteer_id", flat=True)
        .distinct()
    )
    channels: dict[int, list[str]] = {}
    for alert in alerts:
        has_push = alert.volunteer_id in with_device
        channels[alert.pk] = [AlertDelivery.Channel.PUSH] if has_push else []
        if alert.pool == Alert.Pool.CORPS or not has_push:
            channels[alert.pk].append(AlertDelivery.Channel.SMS)
    return channels


def _send_wave(
    incident: Incident, policy: DispatchPolicy, *, wave: int, radius_m: int
) -> list[int]:
    """Alert the wave's candidates; returns the deliveries to send once this commits."""
    candidates = dispatch_candidates(
        incident_id=incident.pk,
        point=incident.location,
        policy=policy,
        radius_m=radius_m,
        include_corps=wave == 1,
    )
    alerts = Alert.objects.bulk_create(
        [
            Alert(
                incident=incident,
                volunteer_id=c.volunteer_id,
                pool=c.pool,
                wave=wave,
                distance_m=c.distance_m,
                volunteer_location=c.location,
            )
            for c in candidates
        ]
    )
    delivery_ids = deliveries_create(_alert_channels(alerts), AlertDelivery.Kind.ALERT)
    incident_wave_record(incident_id=incident.pk, wave=wave, radius_m=radius_m)
    corps = sum(1 for c in candidates if c.pool == Alert.Pool.CORPS)
    incident_event_add(
        incident_id=incident.pk,
        kind=IncidentEvent.Kind.WAVE,
        message=ngettext(
            "Wave %(wave)d: %(n)d volunteer alerted within %(km)s km (%(corps)d from the corps)",
            "Wave %(wave)d: %(n)d volunteers alerted within %(km)s km (%(corps)d from the corps)",
            len(candidates),
        )
        % {"wave": wave, "n": len(candidates), "km": kilometres(radius_m), "corps": corps},
    )
    wave_timers_on_commit(
        incident_id=incident.pk,
        wave=wave,
        sms_fallback_after_s=policy.push_receipt_timeout_s,
        escalate_after_s=policy.escalate_after_s,
    )
    return delivery_ids


@transaction.atomic
def incident_dispatch(*, incident_id: int) -> list[int]:
    """Alert the first wave for an incident still pending dispatch (the outbox).

    Returns the wave's deliveries for the caller (the dispatch task) to send as soon as this
    has committed, from the same process: one queue hop fewer on the way to the first alerts.
    Should it die first, the sweep sends them.
    """
    incident = Incident.objects.select_for_update(no_key=True).filter(pk=incident_id).first()
    if incident is None or incident.state != Incident.State.PENDING_DISPATCH:
        return []
    if incident.exclusion_reasons:
        incident_transition(incident_id=incident_id, to_state=Incident.State.ACTIVE)
        return []
    policy = dispatch_policy_current()
    incident_transition(incident_id=incident_id, to_state=Incident.State.DISPATCHING)
    return _send_wave(incident, policy, wave=1, radius_m=policy.radius_m)


@transaction.atomic
def incident_escalate(
    *,
    incident_id: int,
    after_wave: int | None = None,
    actor: User | None = None,
) -> bool:
    """Send the next wave, wider, if too few have accepted; once per wave.

    The periodic check passes the wave it was scheduled after, so a late or repeated check
    does nothing. The dispatcher's "next wave now" passes none and always sends one, also
    after the target was reached (responders may have dropped out), but never for an
    incident where volunteers were deliberately not activated.
    """
    incident = Incident.objects.select_for_update(no_key=True).filter(pk=incident_id).first()
    if incident is None:
        return False
    requested = actor is not None
    recruiting = incident.state == Incident.State.DISPATCHING or (
        requested and incident.state == Incident.State.ACTIVE and not incident.exclusion_reasons
    )
    if not recruiting:
        return False
    policy = dispatch_policy_current()
    if not requested:
        if after_wave is not None and incident.dispatch_wave != after_wave:
            return False
        if incident.dispatch_wave >= policy.max_waves:
            return False
        if accepted_count(incident_id=incident_id) >= policy.target_accepted:
            return False
    radius_m = min(
        (incident.dispatch_radius_m or policy.radius_m) + policy.radius_step_m,
        policy.max_radius_m,
    )
    if requested:
        incident_event_add(
            incident_id=incident_id,
            kind=IncidentEvent.Kind.WAVE_REQUESTED,
            message=_("Next wave requested"),
            actor=actor,
        )
        incident_transition(incident_id=incident_id, to_state=Incident.State.DISPATCHING)
    deliveries_send_on_commit(
        delivery_ids=_send_wave(
            incident, policy, wave=incident.dispatch_wave + 1, radius_m=radius_m
        )
    )
    return True


@transaction.atomic
def alerts_sms_fallback(*, incident_id: int) -> int:
    """SMS to every volunteer whose push has not been confirmed in time: push is never alone."""
    policy = dispatch_policy_current()
    due = timezone.now() - dt.timedelta(seconds=policy.push_receipt_timeout_s)
    alerts = list(
        Alert.objects.filter(
            incident_id=incident_id,
            incident__state__in=Incident.OPEN_STATES,
            state__in=Alert.WAITING_STATES,
            received_at__isnull=True,
            created_at__lte=due,
            deliveries__channel=AlertDelivery.Channel.PUSH,
            deliveries__kind=AlertDelivery.Kind.ALERT,
        ).exclude(
            deliveries__channel=AlertDelivery.Channel.SMS, deliveries__kind=AlertDelivery.Kind.ALERT
        )
    )
    ids = deliveries_create(sms_only(alerts), AlertDelivery.Kind.ALERT)
    deliveries_send_on_commit(delivery_ids=ids)
    return len(ids)
