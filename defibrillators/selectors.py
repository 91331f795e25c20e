"""Reads of the AED registry: the AEDs around a point, with whether each can be fetched now."""

import datetime as dt

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point

from defibrillators.availability import opening_hours_is_open
from defibrillators.models import Defibrillator


def aeds_near(*, point: Point, radius_m: int, at: dt.datetime, limit: int = 100) -> list[dict]:
    """The nearest AEDs within radius_m as plain rows, nearest first, each with its distance and
    availability at ``at``: available, closed (by its opening hours) or inactive."""
    aeds = (
        Defibrillator.objects.filter(location__dwithin=(point, radius_m))
        .annotate(distance=Distance("location", point))
        .order_by("distance")
        .values(
            "id",
            "name",
            "address",
            "placement",
            "opening_hours",
            "location",
            "distance",
            "status",
            "synthetic",
        )[:limit]
    )
    return [
        {key: value for key, value in aed.items() if key != "distance"}
        | {
            "distance_m": round(aed["distance"].m),
            "availability": (
                "inactive"
                if aed["status"] != Defibrillator.Status.ACTIVE
                else ("available" if opening_hours_is_open(aed["opening_hours"], at) else "closed")
            ),
        }
        for aed in aeds
    ]
