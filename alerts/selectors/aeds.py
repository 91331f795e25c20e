"""Which AED a responder should fetch on the way to the patient: only one that can really be
used by this responder, now."""

import datetime as dt

from django.contrib.gis.geos import Point
from django.db import connection

from alerts.models import AedUse, DispatchPolicy
from defibrillators.availability import LOCAL_TZ, aed_is_available
from defibrillators.models import Defibrillator

# AEDs near the incident that this responder may use, with the detour of fetching each on the
# way: active; battery and pads not expired; public or restricted (restricted ones are then
# checked against their opening hours, as all are), or private and the responder's own (a
# member of a corps that has it as its local AED, or its contact or owner by phone); not claimed
# for this incident; not in use (sent for elsewhere and not confirmed back).
_AEDS_ON_THE_WAY_SQL = """
    SELECT d.id,
           CASE WHEN %(responder)s::geography IS NULL THEN 0
                ELSE ST_Distance(%(responder)s::geography, d.location)
                     + ST_Distance(d.location, %(point)s::geography)
                     - ST_Distance(%(responder)s::geography, %(point)s::geography) END AS detour_m
    FROM defibrillators_defibrillator d
    WHERE d.status = 'active'
      AND (d.battery_expires_on IS NULL OR d.battery_expires_on >= %(today)s)
      AND (d.pads_expire_on IS NULL OR d.pads_expire_on >= %(today)s)
      AND (d.access <> 'private' OR EXISTS (
        SELECT 1 FROM volunteers_volunteer v
        WHERE v.id = %(volunteer_id)s
          AND (v.phone IN (d.contact_phone,
                           regexp_replace(d.owner_phone, '[^0-9+]', '', 'g'),
                           '+45' || regexp_replace(d.owner_phone, '[^0-9]', '', 'g'))
               OR EXISTS (SELECT 1 FROM volunteers_localarea_local_aeds own
                          WHERE own.defibrillator_id = d.id
                            AND own.localarea_id = v.local_area_id))
      ))
      AND (ST_DWithin(d.location, %(point)s::geography, %(radius_m)s)
           OR d.id = ANY(%(preferred)s))
      AND NOT EXISTS (
        SELECT 1 FROM alerts_alert a WHERE a.incident_id = %(incident_id)s AND a.aed_id = d.id
      )
      AND NOT EXISTS (
        SELECT 1 FROM alerts_aeduse u WHERE u.aed_id = d.id AND u.ended_at IS NULL
      )
    ORDER BY d.location <-> %(point)s::geography
    LIMIT 50
"""

# Namespace of the transaction-scoped advisory lock on an AED being claimed ("AE").
_CLAIM_LOCK_NAMESPACE = 0x4145


def _claim_reserved(aed_id: int) -> bool:
    """Reserve the AED for the caller's transaction, unless another transaction is claiming it
    now; then check again that it is not in use: a claim committed meanwhile (for another
    incident, whose lock we do not hold) is seen by this fresh statement."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_CLAIM_LOCK_NAMESPACE, aed_id])
        if not cursor.fetchone()[0]:
            return False
    return not AedUse.objects.filter(aed_id=aed_id, ended_at__isnull=True).exists()


def aed_for_responder(
    *,
    incident_id: int,
    point: Point,
    responder_location: Point | None,
    preferred_aed_ids: frozenset[int],
    policy: DispatchPolicy,
    at: dt.datetime,
    volunteer_id: int | None = None,
) -> Defibrillator | None:
    """The AED this responder should fetch, or None to go straight to the patient.

    An AED qualifies when it is active, its battery and pads are not expired, the responder may
    use it (a private one only its corps or owner: ``volunteer_id``), it is not in use, open
    now, unclaimed for the incident, and the detour via it is acceptable; the corps' own AEDs
    come first, then the smallest detour. A responder whose position is unknown (an SMS-only
    corps member) can only be sent to their own AED.

    The AED returned is reserved for the caller's transaction (an advisory lock), so that two
    incidents' answers never claim it at once: the caller assigns it before committing.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _AEDS_ON_THE_WAY_SQL,
            {
                "point": point.ewkt,
                "responder": responder_location.ewkt if responder_location else None,
                "radius_m": policy.aed_search_radius_m,
                "incident_id": incident_id,
                "preferred": list(preferred_aed_ids),
                "today": at.astimezone(LOCAL_TZ).date(),
                "volunteer_id": volunteer_id,
            },
        )
        detours = dict(cursor.fetchall())
    if responder_location is None:
        detours = {pk: d for pk, d in detours.items() if pk in preferred_aed_ids}
    acceptable = [pk for pk, detour in detours.items() if detour <= policy.max_aed_detour_m]
    acceptable.sort(key=lambda pk: (pk not in preferred_aed_ids, detours[pk]))
    aeds = Defibrillator.objects.in_bulk(acceptable)
    return next(
        (aeds[pk] for pk in acceptable if aed_is_available(aeds[pk], at) and _claim_reserved(pk)),
        None,
    )


def aeds_in_use(*, aed_ids: list[int]) -> set[int]:
    """Which of these AEDs are in use: sent for and not yet confirmed back (one query)."""
    if not aed_ids:
        return set()
    return set(
        AedUse.objects.filter(aed_id__in=aed_ids, ended_at__isnull=True).values_list(
            "aed_id", flat=True
        )
    )
