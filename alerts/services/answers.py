"""Volunteers' answers and what follows them: receipt, accept (with a role and perhaps an AED),
decline, progress, withdrawal, the release of the others once enough are evidently coming
(``alerts.services.surplus``), and the stand-down when the incident ends. SMS replies are read
in ``alerts.services.inbound``.

Every answer locks the incident before its alert (the order every workflow keeps), so an answer
racing a cancel waits instead of deadlocking. One responder, one incident: an acceptance also
takes a lock on its volunteer, so two acceptances of one person for two incidents go in turn
and the second is refused.
"""

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.enqueue import deliveries_send_on_commit
from alerts.models import Alert, AlertDelivery, DispatchPolicy
from alerts.selectors.policy import incident_policy
from alerts.selectors.selection import metres_between
from alerts.services.deliveries import channels_used, deliveries_create, sms_only
from alerts.services.roles import roles_assign
from alerts.services.surplus import surplus_release_if_due
from alerts.services.timeline import alert_move
from alerts.services.waves import replacements_top_up
from amk.models.incident import Incident
from config.exceptions import ApplicationError
from volunteers.models import Volunteer


def _alert_for_volunteer(alert_id: int, volunteer: Volunteer) -> Alert:
    """The caller's own alert, locked after its incident.

    Every workflow locks in that order (incident, then alerts), and the incident lock is
    FOR NO KEY UPDATE so that inserting timeline rows elsewhere never waits on it: an answer
    racing a cancel waits instead of deadlocking.
    """
    incident_id = (
        Alert.objects.filter(pk=alert_id, volunteer=volunteer)
        .values_list("incident_id", flat=True)
        .first()
    )
    if incident_id is None:
        raise ApplicationError(_("No such alert."), code="not_found")
    incident = Incident.objects.select_for_update(no_key=True).get(pk=incident_id)
    alert = Alert.objects.select_for_update(of=("self",)).select_related("aed").get(pk=alert_id)
    alert.incident = incident
    return alert


def _volunteer_lock(volunteer_id: int) -> None:
    """Serialise the acceptances of one volunteer (until the transaction ends).

    An advisory lock, not the volunteer's row: no wait on location updates, and no lock-order
    cycle with the erasure of an account (volunteer row, then its alerts).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"alerts.accept:{volunteer_id}"],
        )


@transaction.atomic
def alert_confirm_receipt(*, alert_id: int, volunteer: Volunteer) -> Alert:
    """The app showed the alert: push worked, so no SMS fallback is needed."""
    alert = _alert_for_volunteer(alert_id, volunteer)
    now = timezone.now()
    if alert.received_at is None:
        Alert.objects.filter(pk=alert.pk).update(received_at=now)
        alert.received_at = now
        AlertDelivery.objects.filter(
            alert=alert, channel=AlertDelivery.Channel.PUSH, kind=AlertDelivery.Kind.ALERT
        ).update(state=AlertDelivery.State.DELIVERED, delivered_at=now, updated_at=now)
    alert_move(alert, Alert.State.DELIVERED, from_states=[Alert.State.QUEUED, Alert.State.SENT])
    return alert


@transaction.atomic
def alert_accept(*, alert_id: int, volunteer: Volunteer, by_sms: bool = False) -> Alert:
    """Accept an alert and get a role: fetch an AED on the way, or go straight to the patient
    (alerts.services.roles: the roles of all the incident's responders are worked out again).

        The incident row is locked so that concurrent acceptances count and claim AEDs in turn.
        Someone engaged on another open incident is refused (code ``engaged_elsewhere``).
    """
    alert = _alert_for_volunteer(alert_id, volunteer)
    incident = alert.incident
    if alert.state in Alert.RESPONDING_STATES:
        return alert
    if not incident.is_open:
        raise ApplicationError(_("The incident has ended; you do not need to go."), code="ended")
    policy = incident_policy(incident)
    now = timezone.now()
    if alert.is_expired(valid_s=policy.alert_valid_s, now=now):
        raise ApplicationError(
            _("Too late: the alert has expired and others have been alerted."), code="expired"
        )
    if alert.state not in Alert.WAITING_STATES:
        raise ApplicationError(
            _("This alert can no longer be accepted (%(state)s).")
            % {"state": alert.get_state_display()},
            code="not_open",
        )
    _volunteer_lock(volunteer.pk)
    if Alert.objects.engaged().filter(volunteer=volunteer).exclude(pk=alert.pk).exists():
        raise ApplicationError(
            _("You are already on your way to another alert."), code="engaged_elsewhere"
        )
    location = _fresh_location(volunteer, policy, now)
    if location is not None and (
        metres_between(location, incident.location) > policy.acceptance_max_distance_m
    ):
        raise ApplicationError(
            _("You are too far away from the incident now; others have been alerted."),
            code="out_of_range",
        )
    alert_move(
        alert,
        Alert.State.ACCEPTED,
        from_states=Alert.WAITING_STATES,
        role=Alert.Role.CPR,
        answered_at=now,
    )
    roles_assign(incident=incident, accepting_id=alert.pk)
    alert.refresh_from_db(fields=["role", "aed", "arrival_estimated_at"])
    if by_sms:
        deliveries_send_on_commit(
            delivery_ids=deliveries_create(sms_only([alert]), AlertDelivery.Kind.DETAILS)
        )
    surplus_release_if_due(incident=incident, policy=policy, now=now)
    return alert


def _fresh_location(volunteer: Volunteer, policy: DispatchPolicy, now: dt.datetime) -> Point | None:
    if volunteer.location is None or volunteer.location_updated_at is None:
        return None
    if now - volunteer.location_updated_at > dt.timedelta(seconds=policy.location_max_age_s):
        return None
    return volunteer.location


@transaction.atomic
def alert_decline(*, alert_id: int, volunteer: Volunteer) -> Alert:
    alert = _alert_for_volunteer(alert_id, volunteer)
    if alert.state == Alert.State.DECLINED:
        return alert
    if not alert_move(
        alert, Alert.State.DECLINED, from_states=Alert.WAITING_STATES, answered_at=timezone.now()
    ):
        raise ApplicationError(
            _("This alert can no longer be declined (%(state)s).")
            % {"state": alert.get_state_display()},
            code="not_open",
        )
    replacements_top_up(incident_id=alert.incident_id)
    return alert


# Progress a responder reports, and the states each step may come from.
PROGRESS_STEPS: dict[str, tuple[str, ...]] = {
    Alert.State.EN_ROUTE: (Alert.State.ACCEPTED,),
    Alert.State.AED_COLLECTED: (Alert.State.ACCEPTED, Alert.State.EN_ROUTE),
    Alert.State.ON_SCENE: (Alert.State.ACCEPTED, Alert.State.EN_ROUTE, Alert.State.AED_COLLECTED),
    Alert.State.RELEASED: Alert.RESPONDING_STATES,
}


@transaction.atomic
def alert_progress(*, alert_id: int, volunteer: Volunteer, state: str) -> Alert:
    """A responder's next step; RELEASED (the app's "finished") before arriving withdraws."""
    alert = _alert_for_volunteer(alert_id, volunteer)
    if state not in PROGRESS_STEPS:
        raise ApplicationError(_("Unknown progress step."), field="state", code="invalid")
    if state == Alert.State.AED_COLLECTED and alert.role != Alert.Role.AED:
        raise ApplicationError(_("You were not asked to fetch an AED."), field="state")
    if alert.state == state:
        return alert
    if state == Alert.State.RELEASED and alert.state in Alert.RESPONDING_STATES:
        _responder_release(alert)
        return alert
    if not alert_move(alert, state, from_states=PROGRESS_STEPS[state]):
        raise ApplicationError(
            _("Cannot go from %(from)s to %(to)s.")
            % {"from": alert.get_state_display(), "to": Alert.State(state).label},
            field="state",
        )
    if alert.incident.state == Incident.State.DISPATCHING:  # progress may release the surplus
        surplus_release_if_due(incident=alert.incident, policy=incident_policy(alert.incident))
    return alert


@transaction.atomic
def alert_withdraw(*, alert_id: int, volunteer: Volunteer) -> Alert:
    """The responder cannot go after all (an SMS NEJ after JA): released, and free for others.

    Idempotent: a second withdrawal changes nothing. Refused (``not_open``) for an alert that
    was not accepted or has ended.
    """
    alert = _alert_for_volunteer(alert_id, volunteer)
    if alert.state == Alert.State.RELEASED and alert.answered_at is not None:
        return alert
    if alert.state not in Alert.RESPONDING_STATES or not alert.incident.is_open:
        raise ApplicationError(
            _("This alert can no longer be withdrawn from (%(state)s).")
            % {"state": alert.get_state_display()},
            code="not_open",
        )
    _responder_release(alert)
    return alert


# A responder out before arriving withdraws (replaced where the policy says so); on scene, done.
WITHDRAWING_STATES = (Alert.State.ACCEPTED, Alert.State.EN_ROUTE, Alert.State.AED_COLLECTED)


def _responder_release(alert: Alert) -> None:
    """Out of the incident: finished on scene, or withdrawn on the way.

    Withdrawing before collecting the AED gives up the role and frees the AED for another
    responder; once collected the AED is out of its cabinet, so the claim stays with them.
    """
    withdrawing = alert.state in WITHDRAWING_STATES
    freed: dict[str, Any] = {}
    if alert.state in (Alert.State.ACCEPTED, Alert.State.EN_ROUTE):
        freed = {"role": Alert.Role.NONE, "aed": None}
    moved = alert_move(
        alert,
        Alert.State.RELEASED,
        from_states=Alert.RESPONDING_STATES,
        note=_("withdrew") if withdrawing else "",
        **freed,
    )
    if moved and withdrawing:
        roles_assign(incident=alert.incident)
        replacements_top_up(incident_id=alert.incident_id)


def alerts_stand_down(*, incident: Incident, actor: User | None = None) -> None:
    """The incident ended: tell everyone still alerted or on the way, and close their alerts."""
    live = list(Alert.objects.filter(incident=incident, state__in=Alert.LIVE_STATES))
    to_state = (
        Alert.State.CANCELLED
        if incident.state == Incident.State.CANCELLED
        else Alert.State.RELEASED
    )
    for alert in live:
        alert_move(alert, to_state, from_states=Alert.LIVE_STATES, actor=actor)
    deliveries_send_on_commit(
        delivery_ids=deliveries_create(channels_used(live), AlertDelivery.Kind.STAND_DOWN)
    )
