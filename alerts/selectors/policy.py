"""The dispatch policy: the one in force for new incidents, and the one a running incident keeps.

An incident carries a copy of the policy in force when it was created (``Incident.dispatch_
policy``, written in the creating transaction by alerts' receiver of ``incident_created``), so
an edit in the admin applies to new incidents only. Every path that works on a running incident
reads its values through ``incident_policy``: one JSON field of the incident row the caller has
already read (or locked), no query.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from alerts.models import DispatchPolicy
from amk.models.incident import Incident
from volunteers.models import Vetting

# What a copy leaves out: the row's identity and bookkeeping (the id is kept as policy_id).
_NOT_COPIED = frozenset({"id", "is_active", "updated_at"})


def _copied_fields() -> list[str]:
    return [f.attname for f in DispatchPolicy._meta.concrete_fields if f.attname not in _NOT_COPIED]


def dispatch_policy_current() -> DispatchPolicy:
    """The active policy, or the built-in defaults (today's Hjerteløber practice) if none is."""
    return DispatchPolicy.objects.filter(is_active=True).first() or DispatchPolicy()


def dispatch_policy_snapshot(policy: DispatchPolicy | None = None) -> dict[str, Any]:
    """Every value of a policy (by default the one in force) as JSON, to copy onto an incident."""
    policy = policy or dispatch_policy_current()
    snapshot: dict[str, Any] = {name: getattr(policy, name) for name in _copied_fields()}
    snapshot["policy_id"] = policy.pk
    return snapshot


def policy_from_snapshot(snapshot: dict[str, Any]) -> DispatchPolicy:
    """An unsaved policy with a copy's values; a value the copy lacks (a field added since)
    takes the field's default, a key no longer a field is ignored."""
    fields = set(_copied_fields())
    return DispatchPolicy(**{k: v for k, v in snapshot.items() if k in fields})


def incident_policy(
    incident: Incident, *, fallback: DispatchPolicy | None = None
) -> DispatchPolicy:
    """The policy a running incident keeps: the copy made when it was created.

    An incident without one (created before copies were made) follows the policy in force:
    ``fallback`` when the caller has read it already (a loop over incidents), else read here.
    The result is unsaved: never save it.
    """
    if incident.dispatch_policy:
        return policy_from_snapshot(incident.dispatch_policy)
    return fallback or dispatch_policy_current()


def incident_policy_lookup() -> Callable[[Incident], DispatchPolicy]:
    """``incident_policy`` for the incidents of one batch of deliveries: each incident's built
    once, and the policy in force read at most once (for incidents without a copy)."""
    built: dict[int, DispatchPolicy] = {}
    current: list[DispatchPolicy] = []

    def lookup(incident: Incident) -> DispatchPolicy:
        if incident.pk not in built:
            if not incident.dispatch_policy and not current:
                current.append(dispatch_policy_current())
            built[incident.pk] = incident_policy(incident, fallback=current[0] if current else None)
        return built[incident.pk]

    return lookup


def policy_vetting(policy: DispatchPolicy, *, now: dt.datetime | None = None) -> Vetting:
    """What the policy asks of everyone alerted, for volunteers' rules (``Vetting``): the same
    object for candidate selection's SQL, the ORM's ``dispatchable`` and the app's status.

    A course counts on the day it was taken and for ``require_course_within_days`` days after,
    by the date in Denmark at ``now``.
    """
    days = policy.require_course_within_days
    course_since = None
    if days is not None:
        course_since = timezone.localdate(now or timezone.now()) - dt.timedelta(days=days)
    return Vetting(
        require_approval=policy.require_approval,
        course_since=course_since,
        max_location_jumps=policy.exclude_after_location_jumps,
    )
