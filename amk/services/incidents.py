"""The incident's lifecycle: creation, the one transition function, waves, end, notes.

Only this module changes ``Incident.state``, the wave fields and the copy of the dispatch policy;
alerts calls it. Work above the incident core (the policy's copy, dispatching, stand-downs)
starts through ``amk.signals``.
"""

from collections.abc import Collection, Iterable
from typing import Any

from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from amk.models.incident import Incident, IncidentEvent
from amk.selectors.territory import incident_location_check
from amk.signals import incident_created, incident_ended
from config.exceptions import ApplicationError

State = Incident.State

# Every allowed move of an incident's state, in one place. Dispatching means still recruiting
# (waves going out); active means enough have accepted or nobody was to be activated.
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    State.PENDING_DISPATCH: frozenset(
        {State.DISPATCHING, State.ACTIVE, State.CANCELLED, State.CLOSED}
    ),
    State.DISPATCHING: frozenset({State.ACTIVE, State.CANCELLED, State.CLOSED}),
    State.ACTIVE: frozenset({State.DISPATCHING, State.CANCELLED, State.CLOSED}),
    State.CANCELLED: frozenset(),
    State.CLOSED: frozenset(),
}
ENDED_STATES = frozenset({State.CANCELLED, State.CLOSED})


def incident_transition(
    *, incident_id: int, to_state: str, from_states: Collection[str] | None = None
) -> bool:
    """Move the state by one conditional UPDATE, only along an allowed move (and only from
    ``from_states`` when given); returns whether it moved. A concurrent or repeated call
    that finds the incident elsewhere changes nothing."""
    sources = [s for s, targets in ALLOWED_MOVES.items() if to_state in targets]
    if from_states is not None:
        sources = [s for s in sources if s in from_states]
    now = timezone.now()
    fields: dict[str, object] = {"state": to_state, "updated_at": now}
    if to_state in ENDED_STATES:
        fields["closed_at"] = now
    return bool(Incident.objects.filter(pk=incident_id, state__in=sources).update(**fields))


def incident_wave_record(*, incident_id: int, wave: int, radius_m: int) -> None:
    """Note the wave just sent and its radius on the incident."""
    now = timezone.now()
    Incident.objects.filter(pk=incident_id).update(
        dispatch_wave=wave, dispatch_radius_m=radius_m, last_wave_at=now, updated_at=now
    )


def incident_policy_record(*, incident: Incident, policy: dict[str, Any]) -> None:
    """Keep the dispatch policy in force on the new incident (alerts copies it in the creating
    transaction): what the incident's waves, answers and timers follow to its end."""
    Incident.objects.filter(pk=incident.pk).update(dispatch_policy=policy)
    incident.dispatch_policy = policy


def incident_event_add(
    *,
    incident_id: int,
    kind: str,
    message: str,
    actor: User | None = None,
    alert_id: int | None = None,
) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident_id=incident_id, alert_id=alert_id, actor=actor, kind=kind, message=message
    )


@transaction.atomic
def incident_create(
    *,
    created_by: User,
    location: Point,
    address: str = "",
    note: str = "",
    exclusion_reasons: Iterable[str] = (),
) -> Incident:
    """Save a suspected cardiac arrest; dispatch starts once it is committed.

    ``incident_created`` is sent inside this transaction: alerts copies the policy in force onto
    the incident and queues the dispatch for after the commit. The row is the outbox: if the
    enqueue is lost, the periodic sweep dispatches it anyway.
    """
    reasons = sorted(set(exclusion_reasons))
    unknown = set(reasons) - set(Incident.Exclusion.values)
    if unknown:
        raise ApplicationError(
            _("Unknown exclusion reason: %(reasons)s") % {"reasons": ", ".join(sorted(unknown))},
            field="exclusion_reasons",
        )
    municipality = incident_location_check(point=location).municipality_or_raise()
    incident = Incident.objects.create(
        location=location,
        address=address.strip(),
        note=note.strip(),
        municipality=municipality,
        exclusion_reasons=reasons,
        created_by=created_by,
    )
    incident_event_add(
        incident_id=incident.pk,
        kind=IncidentEvent.Kind.CREATED,
        message=_("Incident created in %(m)s") % {"m": municipality},
        actor=created_by,
    )
    if reasons:
        labels = ", ".join(str(Incident.Exclusion(r).label) for r in reasons)
        incident_event_add(
            incident_id=incident.pk,
            kind=IncidentEvent.Kind.NOT_ACTIVATED,
            message=_("Volunteers not activated: %(reasons)s") % {"reasons": labels},
            actor=created_by,
        )
    incident_created.send(sender=Incident, incident=incident)
    return incident


def _incident_end(
    *, incident_id: int, actor: User | None, state: str, kind: str, message: str
) -> Incident:
    incident = Incident.objects.select_for_update(no_key=True).get(pk=incident_id)
    if not incident_transition(incident_id=incident_id, to_state=state):
        raise ApplicationError(
            _("The incident has already ended (%(state)s).")
            % {"state": incident.get_state_display()},
            code="ended",
        )
    incident.refresh_from_db(fields=["state", "closed_at", "updated_at"])
    incident_event_add(incident_id=incident_id, kind=kind, message=message, actor=actor)
    incident_ended.send(sender=Incident, incident=incident, actor=actor)
    return incident


@transaction.atomic
def incident_cancel(*, incident_id: int, actor: User) -> Incident:
    """Not a cardiac arrest after all: stand everyone down."""
    return _incident_end(
        incident_id=incident_id,
        actor=actor,
        state=State.CANCELLED,
        kind=IncidentEvent.Kind.CANCELLED,
        message=_("Incident cancelled; stand-down sent to all alerted volunteers"),
    )


@transaction.atomic
def incident_close(
    *, incident_id: int, actor: User | None, auto_after_s: int | None = None
) -> Incident:
    """The ambulance is on scene: release the volunteers with thanks.

    With ``auto_after_s`` (and no actor) the incident was left open that long and closes itself
    (alerts' sweep, by the policy's ``auto_close_after_s``): the same closing, its own entry on
    the timeline.
    """
    if auto_after_s is None:
        kind = IncidentEvent.Kind.CLOSED
        message = _("Incident closed: ambulance on scene; volunteers released")
    else:
        kind = IncidentEvent.Kind.AUTO_CLOSED
        message = _("Closed automatically after %(min)d min") % {"min": auto_after_s // 60}
    return _incident_end(
        incident_id=incident_id, actor=actor, state=State.CLOSED, kind=kind, message=message
    )


@transaction.atomic
def incident_note_add(*, incident_id: int, actor: User, text: str) -> None:
    text = text.strip()
    if not text:
        raise ApplicationError(_("The note is empty."), field="text")
    if len(text) > 500:
        raise ApplicationError(_("The note is longer than 500 characters."), field="text")
    incident = Incident.objects.get(pk=incident_id)
    incident_event_add(
        incident_id=incident.pk, kind=IncidentEvent.Kind.NOTE, message=text, actor=actor
    )
