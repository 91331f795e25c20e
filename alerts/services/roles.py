"""The responders' roles by time: who goes straight to the patient, who fetches which AED.

``roles_assign`` works an incident's roles out afresh, under its lock, from the responders'
estimated travel times (alerts.selectors.routing): the acceptor who reaches the patient first
goes straight there to start CPR; one other fetches an AED when the AED reaches the patient
sooner through them than through anyone else already on the way (and within the policy's
``aed_max_arrival_s``); everyone else goes straight to the patient. A responder on scene, one
who has collected their AED, and one whose role the dispatcher set keep theirs. An SMS-only
corps member without a position fetches their corps' own AED if it can be used, else goes
straight. It runs when someone accepts, withdraws or is stood down, and after the dispatcher
sets a role (``alert_role_set``); each responder whose role changes is told (push and SMS).
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.enqueue import deliveries_send_on_commit
from alerts.models import Alert, AlertDelivery, DispatchPolicy
from alerts.selectors.aeds import AedOption, aed_claim_reserve, aeds_for_incident
from alerts.selectors.policy import incident_policy
from alerts.selectors.routing import router_for
from alerts.services.aed_uses import alert_aed_changed
from alerts.services.deliveries import channels_used
from alerts.services.timeline import volunteer_label
from amk.models.incident import Incident, IncidentEvent
from amk.services.incidents import incident_event_add
from config.exceptions import ApplicationError
from defibrillators.models import Defibrillator
from volunteers.models import LocalArea

# A responder already sent for an AED keeps it unless another's way is this much faster.
KEEP_MARGIN_S = 30.0
# Roles the dispatcher may set, and the states in which a role can still change.
MOVABLE_STATES = (Alert.State.ACCEPTED, Alert.State.EN_ROUTE)


@dataclass
class Plan:
    """One responder's role: what it is, the AED, and the estimated seconds to the patient."""

    role: str
    aed: Defibrillator | None
    eta_s: float | None


def _position(alert: Alert, policy: DispatchPolicy, now: dt.datetime) -> Point | None:
    volunteer = alert.volunteer
    if volunteer is None or volunteer.location is None or volunteer.location_updated_at is None:
        return None
    if (now - volunteer.location_updated_at).total_seconds() > policy.location_max_age_s:
        return None
    return volunteer.location


def _corps_aeds(alerts: list[Alert]) -> dict[int, frozenset[int]]:
    """Each corps member's own AEDs (their local area's), by alert: one query."""
    areas = {
        a.pk: a.volunteer.local_area_id
        for a in alerts
        if a.pool == Alert.Pool.CORPS and a.volunteer and a.volunteer.local_area_id
    }
    own: dict[int, set[int]] = {}
    for area_id, aed_id in LocalArea.local_aeds.through.objects.filter(
        localarea_id__in=set(areas.values())
    ).values_list("localarea_id", "defibrillator_id"):
        own.setdefault(area_id, set()).add(aed_id)
    return {pk: frozenset(own.get(area_id, ())) for pk, area_id in areas.items()}


def roles_plan(
    *,
    incident: Incident,
    alerts: list[Alert],
    pinned: dict[int, Plan],
    options: list[AedOption],
    policy: DispatchPolicy,
    now: dt.datetime,
) -> dict[int, Plan]:
    """The roles by time (pure: no writes; the AEDs and positions are given)."""
    router = router_for(policy)
    positions = {a.pk: p for a in alerts if (p := _position(a, policy, now)) is not None}
    located = [a for a in alerts if a.pk in positions]
    aed_points = [o.aed.location for o in options]
    matrix = router.seconds([positions[a.pk] for a in located], [incident.location, *aed_points])
    aed_to_patient = [row[0] for row in router.seconds(aed_points, [incident.location])]
    direct = {a.pk: matrix[i][0] for i, a in enumerate(located)}
    via = {
        (a.pk, o.aed.pk): matrix[i][j + 1] + aed_to_patient[j]
        for i, a in enumerate(located)
        for j, o in enumerate(options)
    }
    plans: dict[int, Plan] = {}
    movable: list[Alert] = []
    for alert in alerts:
        if alert.pk in pinned:
            pin = pinned[alert.pk]
            eta = direct.get(alert.pk)
            if pin.aed is not None:
                eta = via.get((alert.pk, pin.aed.pk), eta)
            plans[alert.pk] = Plan(pin.role, pin.aed, eta)
        elif alert.state == Alert.State.ON_SCENE:
            plans[alert.pk] = Plan(alert.role or Alert.Role.CPR, alert.aed, 0.0)
        elif alert.state == Alert.State.AED_COLLECTED or alert.role_by_dispatcher:
            eta = via.get((alert.pk, alert.aed_id or 0), direct.get(alert.pk))
            if alert.state == Alert.State.AED_COLLECTED:
                eta = direct.get(alert.pk)
            plans[alert.pk] = Plan(alert.role or Alert.Role.CPR, alert.aed, eta)
        else:
            movable.append(alert)
    taken = {p.aed.pk for p in plans.values() if p.aed is not None}
    free = [o for o in options if o.aed.pk not in taken]
    own = _corps_aeds(movable)
    # SMS-only corps members without a position: their own corps AED, or straight there.
    for alert in [a for a in movable if a.pk not in direct]:
        mine = next(
            (
                o
                for o in free
                if o.aed.pk in own.get(alert.pk, ())
                and (o.allowed is None or alert.volunteer_id in o.allowed)
            ),
            None,
        )
        plans[alert.pk] = Plan(
            Alert.Role.AED if mine else Alert.Role.CPR, mine.aed if mine else None, None
        )
        if mine:
            free.remove(mine)
    located_movable = sorted(
        (a for a in movable if a.pk in direct), key=lambda a: (direct[a.pk], a.pk)
    )
    known = [p.eta_s for p in plans.values() if p.eta_s is not None]
    first_fixed = min(known, default=float("inf"))
    candidates = list(located_movable)
    if candidates and direct[candidates[0].pk] < first_fixed:
        first = candidates.pop(0)  # the first to reach the patient starts CPR
        plans[first.pk] = Plan(Alert.Role.CPR, None, direct[first.pk])
    aed_arrival = min(
        (p.eta_s for p in plans.values() if p.aed is not None and p.eta_s is not None),
        default=float("inf"),
    )
    best: tuple[float, Alert, AedOption] | None = None
    for alert in candidates:
        for option in free:
            if option.allowed is not None and alert.volunteer_id not in option.allowed:
                continue
            seconds = via[(alert.pk, option.aed.pk)]
            if seconds > policy.aed_max_arrival_s or seconds >= aed_arrival:
                continue
            rank = seconds - (KEEP_MARGIN_S if alert.aed_id == option.aed.pk else 0.0)
            if best is None or rank < best[0]:
                best = (rank, alert, option)
    for alert in candidates:
        if best is not None and best[1] is alert:
            plans[alert.pk] = Plan(Alert.Role.AED, best[2].aed, via[(alert.pk, best[2].aed.pk)])
        else:
            plans[alert.pk] = Plan(Alert.Role.CPR, None, direct[alert.pk])
    return plans


def _key(plan: Plan) -> tuple[str, int | None]:
    return plan.role, plan.aed.pk if plan.aed is not None else None


def _role_text(plan: Plan) -> str:
    if plan.aed is not None:
        return _("fetches AED %(aed)s") % {"aed": plan.aed.name}
    return _("goes straight to the patient")


def _apply(alert: Alert, plan: Plan, *, actor: User | None, by_dispatcher: bool) -> None:
    """Set the alert's role and AED; the AED's use follows (alerts.services.aed_uses)."""
    previous = alert.aed_id
    Alert.objects.filter(pk=alert.pk).update(
        role=plan.role,
        aed=plan.aed,
        role_by_dispatcher=by_dispatcher or alert.role_by_dispatcher,
        updated_at=timezone.now(),
    )
    alert.role, alert.aed = plan.role, plan.aed
    alert_aed_changed(alert, previous_aed_id=previous)
    incident_event_add(
        incident_id=alert.incident_id,
        kind=IncidentEvent.Kind.AED_CLAIMED if plan.aed else IncidentEvent.Kind.ROLE_CHANGED,
        message=f"{volunteer_label(alert)} {_role_text(plan)}",
        actor=actor,
        alert_id=alert.pk,
    )


def _tell(alerts: list[Alert]) -> None:
    """A new role by push (where the alert went by push) and SMS; a message of an earlier
    change not yet sent will carry the latest role, so none is added beside it."""
    if not alerts:
        return
    channels = channels_used(alerts)
    existing: dict[tuple[int, str], list[AlertDelivery]] = {}
    for delivery in AlertDelivery.objects.filter(alert__in=alerts, kind=AlertDelivery.Kind.ROLE):
        existing.setdefault((delivery.alert_id, delivery.channel), []).append(delivery)
    new = []
    for alert in alerts:
        for channel in {*channels.get(alert.pk, []), AlertDelivery.Channel.SMS}:
            earlier = existing.get((alert.pk, channel), [])
            if any(d.state == AlertDelivery.State.PENDING and d.attempts == 0 for d in earlier):
                continue
            revision = max((d.revision for d in earlier), default=0) + 1
            new.append(
                AlertDelivery(
                    alert=alert, channel=channel, kind=AlertDelivery.Kind.ROLE, revision=revision
                )
            )
    created = AlertDelivery.objects.bulk_create(new)
    deliveries_send_on_commit(delivery_ids=[d.pk for d in created])


def roles_assign(
    *,
    incident: Incident,
    accepting_id: int | None = None,
    pinned: dict[int, Plan] | None = None,
    actor: User | None = None,
) -> dict[int, Plan]:
    """Work the incident's roles out again and apply the changes (the caller holds the incident's
    lock). The responders whose role changes are told, except ``accepting_id`` (the acceptor,
    who gets the address and role as the answer)."""
    pinned = pinned or {}
    now = timezone.now()
    policy = incident_policy(incident)
    alerts = list(
        Alert.objects.select_for_update(of=("self",))
        .filter(incident=incident, state__in=Alert.RESPONDING_STATES)
        .select_related("volunteer", "aed")
        .order_by("pk")
    )
    if not alerts:
        return {}
    options = aeds_for_incident(
        incident_id=incident.pk,
        point=incident.location,
        volunteer_ids=[a.volunteer_id for a in alerts if a.volunteer_id],
        preferred_aed_ids=frozenset().union(*_corps_aeds(alerts).values()),
        policy=policy,
        at=now,
    )
    current = {a.pk: a.aed_id for a in alerts}
    for _attempt in range(3):
        plans = roles_plan(
            incident=incident, alerts=alerts, pinned=pinned, options=options, policy=policy, now=now
        )
        # An AED new to this incident is reserved first; one another incident is claiming
        # now is dropped and the roles worked out without it.
        held = set(current.values())
        refused = {
            p.aed.pk
            for p in plans.values()
            if p.aed is not None and p.aed.pk not in held and not aed_claim_reserve(p.aed.pk)
        }
        if not refused:
            break
        options = [o for o in options if o.aed.pk not in refused]
    changed = [a for a in alerts if a.pk in pinned or (a.role, a.aed_id) != _key(plans[a.pk])]
    # Give AEDs up before handing them to someone else (one AED, one responder per incident).
    changed.sort(key=lambda a: plans[a.pk].aed is not None)
    for alert in changed:
        _apply(alert, plans[alert.pk], actor=actor, by_dispatcher=alert.pk in pinned)
    for alert in alerts:
        eta = plans[alert.pk].eta_s
        alert.arrival_estimated_at = None if eta is None else now + dt.timedelta(seconds=eta)
    Alert.objects.bulk_update(alerts, ["arrival_estimated_at"])
    _tell([a for a in changed if a.pk != accepting_id])
    return plans


@transaction.atomic
def alert_role_set(*, alert_id: int, role: str, aed_id: int | None, actor: User) -> Alert:
    """The dispatcher sets a responder's role (and AED): kept when the roles are worked out
    again; the responder is told, and the timeline names the dispatcher."""
    incident_id = Alert.objects.filter(pk=alert_id).values_list("incident_id", flat=True).first()
    if incident_id is None:
        raise ApplicationError(_("No such alert."), code="not_found")
    incident = Incident.objects.select_for_update(no_key=True).get(pk=incident_id)
    alert = Alert.objects.select_for_update(of=("self",)).get(pk=alert_id)
    if not incident.is_open:
        raise ApplicationError(_("The incident has ended."), code="ended")
    if alert.state not in MOVABLE_STATES:
        raise ApplicationError(
            _("Only a responder on the way can get another role (this one: %(state)s).")
            % {"state": alert.get_state_display()},
            field="role",
            code="not_responding",
        )
    if role not in (Alert.Role.CPR, Alert.Role.AED):
        raise ApplicationError(_("Unknown role."), field="role", code="invalid")
    aed = None
    if role == Alert.Role.AED:
        options = aeds_for_incident(
            incident_id=incident.pk,
            point=incident.location,
            volunteer_ids=[alert.volunteer_id] if alert.volunteer_id else [],
            preferred_aed_ids=frozenset([aed_id]) if aed_id else frozenset(),
            policy=incident_policy(incident),
            at=timezone.now(),
        )
        usable = {
            o.aed.pk: o for o in options if o.allowed is None or alert.volunteer_id in o.allowed
        }
        fixed = set(
            Alert.objects.filter(incident=incident, aed_id=aed_id)
            .exclude(pk=alert.pk)
            .exclude(state__in=MOVABLE_STATES, role_by_dispatcher=False)
            .values_list("pk", flat=True)
        )
        if aed_id not in usable or fixed:
            raise ApplicationError(
                _("This AED cannot be sent for now (expired, private, in use, closed or taken)."),
                field="aed",
                code="unusable",
            )
        aed = usable[aed_id].aed
        held_here = Alert.objects.filter(incident=incident, aed_id=aed.pk).exists()
        if not held_here and not aed_claim_reserve(aed.pk):
            raise ApplicationError(_("This AED is being claimed now."), field="aed", code="busy")
    roles_assign(
        incident=incident,
        pinned={alert.pk: Plan(role, aed, None)},
        actor=actor,
    )
    alert.refresh_from_db()
    return alert
