"""The AEDs an incident's responders may fetch on the way to the patient: only those that can
really be used by them, now (which responder fetches which is alerts.services.roles)."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db import connection

from alerts.models import AedUse, DispatchPolicy
from defibrillators.availability import LOCAL_TZ, aed_is_available
from defibrillators.models import Defibrillator

# AEDs near the incident that these responders may use: active; battery and pads not expired;
# public or restricted (restricted ones are then checked against their opening hours, as all
# are), or private and the own of one of the responders (a member of a corps that has it as its
# local AED, or its contact or owner by phone: ``allowed`` lists who may take a private one);
# not in use (sent for elsewhere and not confirmed back), except by a responder of this incident
# who has not collected it yet (the roles of the incident may move it to another responder).
_PRIVATE_OWNERS = """
    SELECT v.id FROM volunteers_volunteer v
    WHERE v.id = ANY(%(volunteer_ids)s)
      AND (v.phone IN (d.contact_phone,
                       regexp_replace(d.owner_phone, '[^0-9+]', '', 'g'),
                       '+45' || regexp_replace(d.owner_phone, '[^0-9]', '', 'g'))
           OR EXISTS (SELECT 1 FROM volunteers_localarea_local_aeds own
                      WHERE own.defibrillator_id = d.id AND own.localarea_id = v.local_area_id))
"""
_AEDS_FOR_INCIDENT_SQL = f"""
    SELECT d.id,
           CASE WHEN d.access = 'private' THEN ARRAY({_PRIVATE_OWNERS}) END AS allowed
    FROM defibrillators_defibrillator d
    WHERE d.status = 'active'
      AND (d.battery_expires_on IS NULL OR d.battery_expires_on >= %(today)s)
      AND (d.pads_expire_on IS NULL OR d.pads_expire_on >= %(today)s)
      AND (d.access <> 'private' OR EXISTS ({_PRIVATE_OWNERS}))
      AND (ST_DWithin(d.location, %(point)s::geography, %(radius_m)s)
           OR d.id = ANY(%(preferred)s))
      AND NOT EXISTS (
        SELECT 1 FROM alerts_aeduse u
        WHERE u.aed_id = d.id AND u.ended_at IS NULL
          AND NOT (u.collected_at IS NULL AND u.alert_id IN (
            SELECT a.id FROM alerts_alert a WHERE a.incident_id = %(incident_id)s
              AND a.state IN ('accepted', 'en_route')))
      )
    ORDER BY d.location <-> %(point)s::geography
    LIMIT 50
"""  # noqa: S608 (constant fragments, no input)


@dataclass(frozen=True)
class AedOption:
    """An AED this incident's responders may fetch; ``allowed``: who may (None: anyone)."""

    aed: Defibrillator
    allowed: frozenset[int] | None


def aeds_for_incident(
    *,
    incident_id: int,
    point: Point,
    volunteer_ids: list[int],
    preferred_aed_ids: frozenset[int],
    policy: DispatchPolicy,
    at: dt.datetime,
) -> list[AedOption]:
    """The AEDs the incident's responders could fetch now, nearest the patient first (two
    queries whatever the number of responders and AEDs; opening hours checked in Python).

    An AED qualifies when it is active, its battery and pads are not expired, it is public or
    restricted, or private and its corps' or owner's (only for them), it is within the AED
    search radius (or one of the responders' corps AEDs), open now, and not in use (an AED
    claimed for this incident and not yet collected stays a candidate: the roles may move it).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _AEDS_FOR_INCIDENT_SQL,
            {
                "point": point.ewkt,
                "radius_m": policy.aed_search_radius_m,
                "incident_id": incident_id,
                "preferred": list(preferred_aed_ids),
                "today": at.astimezone(LOCAL_TZ).date(),
                "volunteer_ids": volunteer_ids,
            },
        )
        rows = cursor.fetchall()
    aeds = Defibrillator.objects.in_bulk([pk for pk, _ in rows])
    return [
        AedOption(aed=aeds[pk], allowed=None if allowed is None else frozenset(allowed))
        for pk, allowed in rows
        if pk in aeds and aed_is_available(aeds[pk], at)
    ]


# Namespace of the transaction-scoped advisory lock on an AED being claimed ("AE").
_CLAIM_LOCK_NAMESPACE = 0x4145


def aed_claim_reserve(aed_id: int) -> bool:
    """Reserve the AED for the caller's transaction, unless another transaction is claiming it
    now; then check again that it is not in use: a claim committed meanwhile (for another
    incident, whose lock we do not hold) is seen by this fresh statement."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_CLAIM_LOCK_NAMESPACE, aed_id])
        if not cursor.fetchone()[0]:
            return False
    return not AedUse.objects.filter(aed_id=aed_id, ended_at__isnull=True).exists()


def aeds_in_use(*, aed_ids: list[int]) -> set[int]:
    """Which of these AEDs are in use: sent for and not yet confirmed back (one query)."""
    if not aed_ids:
        return set()
    return set(
        AedUse.objects.filter(aed_id__in=aed_ids, ended_at__isnull=True).values_list(
            "aed_id", flat=True
        )
    )
