"""Dispatch and escalation: the waves of alerts for an incident, the replacements of replace
mode, and the push→SMS fallback. Every path follows the incident's own copy of the policy.

``incident_dispatch`` alerts the first wave of an incident still pending dispatch (the outbox).
In waves mode ``incident_escalate`` sends the next, wider one while too few have accepted, up to
the policy's maximum number of waves; the dispatcher's "next wave now" goes also beyond it,
labelled as such, and never wider than the maximum radius. In replace mode the first wave is
the nearest ``outstanding_target`` within the maximum radius, and ``replacements_top_up``
replaces each decline, expiry or withdrawal (and each periodic check tops up) with the next
nearest, until the target has accepted. Each wave schedules its own fallback and escalation
checks once committed. ``alerts_sms_fallback`` adds an SMS for every push alert the app has not
confirmed in time.
"""

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alerts.enqueue import (
    alerts_sms_fallback_on_commit,
    deliveries_send_on_commit,
    wave_timers_on_commit,
)
from alerts.messages import kilometres
from alerts.models import Alert, AlertDelivery, DispatchPolicy
from alerts.selectors.policy import incident_policy
from alerts.selectors.selection import Candidate, dispatch_candidates
from alerts.services.deliveries import deliveries_create, sms_only
from alerts.services.surplus import surplus_release_if_due
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


def _alerts_create(incident: Incident, candidates: list[Candidate], *, wave: int) -> list[int]:
    """One alert per candidate and its deliveries; returns the deliveries to send."""
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
    return deliveries_create(_alert_channels(alerts), AlertDelivery.Kind.ALERT)


def _wave_message(*, wave: int, max_waves: int, candidates: list[Candidate], radius_m: int) -> str:
    corps = sum(1 for c in candidates if c.pool == Alert.Pool.CORPS)
    alerted = ngettext(
        "%(n)d volunteer alerted within %(km)s km (%(corps)d from the corps)",
        "%(n)d volunteers alerted within %(km)s km (%(corps)d from the corps)",
        len(candidates),
    ) % {"n": len(candidates), "km": kilometres(radius_m), "corps": corps}
    if wave > max_waves:
        label = _("Extra wave %(wave)d beyond the policy's %(max)d") % {
            "wave": wave,
            "max": max_waves,
        }
    else:
        label = _("Wave %(wave)d") % {"wave": wave}
    return f"{label}: {alerted}"


def _send_wave(
    incident: Incident,
    policy: DispatchPolicy,
    *,
    wave: int,
    radius_m: int,
    limit: int | None = None,
) -> list[int]:
    """Alert the wave's candidates; returns the deliveries to send once this commits."""
    candidates = dispatch_candidates(
        incident_id=incident.pk,
        point=incident.location,
        policy=policy,
        radius_m=radius_m,
        include_corps=wave == 1,
        limit=limit,
    )
    delivery_ids = _alerts_create(incident, candidates, wave=wave)
    incident_wave_record(incident_id=incident.pk, wave=wave, radius_m=radius_m)
    incident_event_add(
        incident_id=incident.pk,
        kind=IncidentEvent.Kind.WAVE,
        message=_wave_message(
            wave=wave, max_waves=policy.max_waves, candidates=candidates, radius_m=radius_m
        ),
    )
    if not candidates and wave >= policy.max_waves and policy.mode == DispatchPolicy.Mode.WAVES:
        _not_activated_record(incident, radius_m=radius_m)
    wave_timers_on_commit(
        incident_id=incident.pk,
        wave=wave,
        sms_fallback_after_s=policy.push_receipt_timeout_s,
        escalate_after_s=policy.escalate_after_s,
    )
    return delivery_ids


def _not_activated_record(incident: Incident, *, radius_m: int) -> None:
    """The policy's last wave found nobody and nobody was alerted before: the reason on the
    timeline (once), as the dispatcher's own reasons are (the statistics count it too)."""
    kind = IncidentEvent.Kind.NOT_ACTIVATED
    if (
        Alert.objects.filter(incident=incident).exists()
        or incident.events.filter(kind=kind).exists()
    ):
        return
    incident_event_add(
        incident_id=incident.pk,
        kind=kind,
        message=_("Volunteers not activated: nobody available within %(km)s km")
        % {"km": kilometres(radius_m)},
    )


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
    policy = incident_policy(incident)
    incident_transition(incident_id=incident_id, to_state=Incident.State.DISPATCHING)
    if policy.mode == DispatchPolicy.Mode.REPLACE:
        # The nearest few within the maximum radius; replacements follow each who drops out.
        return _send_wave(
            incident,
            policy,
            wave=1,
            radius_m=policy.max_radius_m,
            limit=policy.outstanding_target,
        )
    return _send_wave(incident, policy, wave=1, radius_m=policy.radius_m)


@transaction.atomic
def incident_escalate(
    *,
    incident_id: int,
    after_wave: int | None = None,
    actor: User | None = None,
) -> bool:
    """Send the next wave, wider, if too few have accepted; once per wave, at most the policy's
    maximum number of waves. In replace mode the periodic check tops up the replacements
    instead (``replacements_top_up``).

    The periodic check passes the wave it was scheduled after, so a late or repeated check
    does nothing. The dispatcher's "next wave now" passes none and always sends one, also
    after the target was reached (responders may have dropped out) and beyond the maximum
    number of waves (labelled so on the timeline; never wider than the maximum radius), but
    never for an incident where volunteers were deliberately not activated.
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
    policy = incident_policy(incident)
    if not requested:
        if after_wave is not None and incident.dispatch_wave != after_wave:
            return False
        # Enough evidently coming: the others are released (and recruiting stops).
        if surplus_release_if_due(incident=incident, policy=policy):
            return False
        if policy.mode == DispatchPolicy.Mode.REPLACE:
            return _top_up(incident, policy) > 0
        if incident.dispatch_wave >= policy.max_waves:
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
def replacements_top_up(*, incident_id: int) -> int:
    """Replace mode: alert the next nearest eligible volunteers, within the maximum radius, so
    that ``outstanding_target`` alerts are unanswered again, until ``target_accepted`` have
    accepted. Called after a decline, an expiry and a withdrawal, and by the periodic check
    (someone may have come into range). Waves mode: nothing. Returns how many were alerted.
    """
    incident = Incident.objects.select_for_update(no_key=True).filter(pk=incident_id).first()
    if incident is None:
        return 0
    return _top_up(incident, incident_policy(incident))


def _top_up(incident: Incident, policy: DispatchPolicy) -> int:
    """``replacements_top_up`` for an incident its caller has locked."""
    if (
        policy.mode != DispatchPolicy.Mode.REPLACE
        or incident.exclusion_reasons
        or incident.state not in (Incident.State.DISPATCHING, Incident.State.ACTIVE)
    ):
        return 0
    # The corps of the area is alerted in full in the first wave, besides: only the app pool's
    # unanswered alerts count towards the outstanding target. Bare acceptances do not stop it
    # before the policy's release time (alerts.services.surplus): only responders evidently
    # coming do.
    waiting = Alert.objects.filter(
        incident=incident, state__in=Alert.WAITING_STATES, pool=Alert.Pool.APP
    ).count()
    missing = policy.outstanding_target - waiting
    if missing <= 0 or surplus_release_if_due(incident=incident, policy=policy):
        return 0
    candidates = dispatch_candidates(
        incident_id=incident.pk,
        point=incident.location,
        policy=policy,
        radius_m=policy.max_radius_m,
        include_corps=False,
        limit=policy.outstanding_target,
    )[:missing]
    if not candidates:
        return 0
    delivery_ids = _alerts_create(incident, candidates, wave=max(incident.dispatch_wave, 1))
    incident_event_add(
        incident_id=incident.pk,
        kind=IncidentEvent.Kind.REPLACEMENTS,
        message=ngettext(
            "%(n)d volunteer alerted in place of those who did not come, within %(km)s km "
            "(%(out)d unanswered kept out)",
            "%(n)d volunteers alerted in place of those who did not come, within %(km)s km "
            "(%(out)d unanswered kept out)",
            len(candidates),
        )
        % {
            "n": len(candidates),
            "km": kilometres(policy.max_radius_m),
            "out": policy.outstanding_target,
        },
    )
    # A withdrawal after the target was reached: recruiting again.
    incident_transition(
        incident_id=incident.pk,
        to_state=Incident.State.DISPATCHING,
        from_states=[Incident.State.ACTIVE],
    )
    deliveries_send_on_commit(delivery_ids=delivery_ids)
    alerts_sms_fallback_on_commit(incident_id=incident.pk, countdown=policy.push_receipt_timeout_s)
    return len(candidates)


@transaction.atomic
def alerts_sms_fallback(*, incident_id: int) -> int:
    """SMS to every volunteer whose push has not been confirmed in time: push is never alone."""
    incident = Incident.objects.filter(pk=incident_id).only("dispatch_policy").first()
    if incident is None:
        return 0
    policy = incident_policy(incident)
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
