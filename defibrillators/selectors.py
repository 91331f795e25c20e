"""Reads of the AED registry: the AEDs around a point, with whether each can be fetched now and
whether its battery or pads have expired (or expire soon)."""

import datetime as dt

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point

from defibrillators.availability import LOCAL_TZ, opening_hours_is_open
from defibrillators.models import EXPIRY_WARNING_DAYS, Defibrillator


def _availability(aed: dict, at: dt.datetime, today: dt.date) -> str:
    if aed["status"] != Defibrillator.Status.ACTIVE:
        return "inactive"
    if aed["next_expiry"] is not None and aed["next_expiry"] < today:
        return "expired"
    return "available" if opening_hours_is_open(aed["opening_hours"], at) else "closed"


def aeds_near(*, point: Point, radius_m: int, at: dt.datetime, limit: int = 100) -> list[dict]:
    """The nearest AEDs within radius_m as plain rows, nearest first, each with its distance,
    its availability at ``at`` (available, closed by its opening hours, expired: battery or
    pads past their date, or inactive), its access, the next expiry date and whether it has
    passed (``expired``) or comes within EXPIRY_WARNING_DAYS (``expires_soon``)."""
    today = at.astimezone(LOCAL_TZ).date()
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
            "access",
            "synthetic",
            "battery_expires_on",
            "pads_expire_on",
        )[:limit]
    )
    rows = []
    for values in aeds:
        aed: dict = dict(values)
        dates = [d for d in (aed.pop("battery_expires_on"), aed.pop("pads_expire_on")) if d]
        next_expiry = min(dates) if dates else None
        expired = next_expiry is not None and next_expiry < today
        aed |= {
            "next_expiry": next_expiry,
            "distance_m": round(aed.pop("distance").m),
            "expired": expired,
            "expires_soon": not expired
            and next_expiry is not None
            and next_expiry <= today + dt.timedelta(days=EXPIRY_WARNING_DAYS),
        }
        aed["availability"] = _availability(aed, at, today)
        rows.append(aed)
    return rows
