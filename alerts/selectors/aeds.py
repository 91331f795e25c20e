"""Which AED a responder should fetch on the way to the patient."""

import datetime as dt

from django.contrib.gis.geos import Point
from django.db import connection

from alerts.models import DispatchPolicy
from defibrillators.availability import aed_is_available
from defibrillators.models import Defibrillator

# AEDs near the incident, not claimed for it, with the detour of fetching each on the way.
_AEDS_ON_THE_WAY_SQL = """
    SELECT d.id,
           CASE WHEN %(responder)s::geography IS NULL THEN 0
                ELSE ST_Distance(%(responder)s::geography, d.location)
                     + ST_Distance(d.location, %(point)s::geography)
                     - ST_Distance(%(responder)s::geography, %(point)s::geography) END AS detour_m
    FROM defibrillators_defibrillator d
    WHERE d.status = 'active'
      AND (ST_DWithin(d.location, %(point)s::geography, %(radius_m)s)
           OR d.id = ANY(%(preferred)s))
      AND NOT EXISTS (
        SELECT 1 FROM alerts_alert a WHERE a.incident_id = %(incident_id)s AND a.aed_id = d.id
      )
    ORDER BY d.location <-> %(point)s::geography
    LIMIT 50
"""


def aed_for_responder(
    *,
    incident_id: int,
    point: Point,
    responder_location: Point | None,
    preferred_aed_ids: frozenset[int],
    policy: DispatchPolicy,
    at: dt.datetime,
) -> Defibrillator | None:
    """The AED this responder should fetch, or None to go straight to the patient.

    An AED qualifies when it is active, open now, unclaimed for the incident, and the detour
    via it is acceptable; the corps' own AEDs come first, then the smallest detour. A responder
    whose position is unknown (an SMS-only corps member) can only be sent to their own AED.
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
            },
        )
        detours = dict(cursor.fetchall())
    if responder_location is None:
        detours = {pk: d for pk, d in detours.items() if pk in preferred_aed_ids}
    acceptable = [pk for pk, detour in detours.items() if detour <= policy.max_aed_detour_m]
    acceptable.sort(key=lambda pk: (pk not in preferred_aed_ids, detours[pk]))
    aeds = Defibrillator.objects.in_bulk(acceptable)
    return next((aeds[pk] for pk in acceptable if aed_is_available(aeds[pk], at)), None)
