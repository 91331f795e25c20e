"""The rules for a position a phone reports: where and when it may come from (Denmark, accurate
enough, not from the future, recent). Pure validation, no query: the location API
(volunteers.apis.location) and the fast path (volunteers.fastpath) both check with it."""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from config.exceptions import ApplicationError
from config.geography import within_denmark


def location_reading_plain(data: object) -> dict | None:
    """The usual well-formed body, typed and checked without a serializer; None for anything
    else, which the API's serializer then checks and words the error for."""
    if not isinstance(data, dict):
        return None
    lat, lon = data.get("lat"), data.get("lon")
    accuracy_m, measured = data.get("accuracy_m"), data.get("measured_at")
    if not (
        type(lat) in (int, float)
        and type(lon) in (int, float)
        and type(accuracy_m) is int
        and isinstance(measured, str)
        and -90 <= lat <= 90
        and -180 <= lon <= 180
        and accuracy_m >= 0
    ):
        return None
    try:
        measured_at = parse_datetime(measured)
    except ValueError:
        return None
    if measured_at is None or measured_at.tzinfo is None:
        return None
    values = {"lat": float(lat), "lon": float(lon), "accuracy_m": accuracy_m}
    values["measured_at"] = measured_at
    try:
        return location_reading_check(values)
    except ApplicationError:
        return None


def location_reading_check(attrs: dict) -> dict:
    """Where and when a position may come from: Denmark, accurate enough, recent.

    Raises ApplicationError naming the field; returns the reading with a measurement time of at
    most now (a clock a little ahead is let through as now)."""
    now = timezone.now()
    if not within_denmark(lon=attrs["lon"], lat=attrs["lat"]):
        raise ApplicationError(_("The position is outside Denmark."), field="lat")
    if attrs["accuracy_m"] > settings.LOCATION_MAX_ACCURACY_M:
        raise ApplicationError(
            _("Too inaccurate: more than %(m)d m.") % {"m": settings.LOCATION_MAX_ACCURACY_M},
            field="accuracy_m",
        )
    measured_at = attrs["measured_at"]
    if measured_at > now + dt.timedelta(seconds=settings.LOCATION_CLOCK_SKEW_S):
        raise ApplicationError(_("The measurement time is in the future."), field="measured_at")
    if measured_at < now - dt.timedelta(seconds=settings.LOCATION_MAX_AGE_S):
        raise ApplicationError(
            _("Too old: measured more than %(s)d s ago.") % {"s": settings.LOCATION_MAX_AGE_S},
            field="measured_at",
        )
    return {**attrs, "measured_at": min(measured_at, now)}
