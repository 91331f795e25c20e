"""Reads for the volunteers' app: the caller's profile, nearby AEDs, all stored about them."""

import datetime as dt

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.utils import timezone

from config.exceptions import ApplicationError
from defibrillators.availability import aed_is_available
from defibrillators.models import Defibrillator
from volunteers.models import Volunteer


def volunteer_for_user(*, user_id: int) -> Volunteer:
    """The caller's volunteer profile; a user without one (staff) gets 404 from the API."""
    volunteer = (
        Volunteer.objects.select_related("user", "local_area")
        .defer("local_area__area")
        .filter(user_id=user_id)
        .first()
    )
    if volunteer is None:
        raise ApplicationError("No volunteer profile for this account.", code="not_found")
    return volunteer


def aeds_near(
    *, point: Point, radius_m: int, limit: int = 50, at: dt.datetime | None = None
) -> list[tuple[Defibrillator, int, bool]]:
    """Active AEDs within radius_m, nearest first (GiST: dwithin + KNN), with availability now."""
    at = at or timezone.now()
    aeds = (
        Defibrillator.objects.active()
        .filter(location__dwithin=(point, D(m=radius_m)))
        .annotate(distance=Distance("location", point))
        .defer(
            "source_tags",
            "cabinet_code",
            "owner_name",
            "owner_phone",
            "contact_name",
            "contact_phone",
        )
        .order_by("distance")[:limit]
    )
    return [(aed, round(aed.distance.m), aed_is_available(aed, at)) for aed in aeds]


def approximate_distance_m(distance_m: int | None) -> int | None:
    """A distance as the volunteers see it, rounded to 100 m: exact distances from several
    accounts would let them triangulate a patient's home (the alert API and the export)."""
    return None if distance_m is None else int(round(distance_m / 100.0) * 100)


def latlon(point: Point | None) -> dict | None:
    """A point as the volunteers' API shows it: {"lat", "lon"} to 6 decimals (about 0.1 m)."""
    return {"lat": round(point.y, 6), "lon": round(point.x, 6)} if point is not None else None


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def volunteer_export(*, volunteer: Volunteer) -> dict:
    """Everything stored about the volunteer, as JSON-ready data (the right of access).

    Shown as the API shows it: distances to incidents rounded to 100 m, and never the
    volunteer's own position at alert time (with the rounded distance, two or three accounts'
    positions would give the patient's address; GDPR art. 15(4): the rights of others)."""
    user = volunteer.user
    location = None
    if volunteer.location is not None:
        location = {
            **(latlon(volunteer.location) or {}),
            "accuracy_m": volunteer.location_accuracy_m,
            "measured_at": _iso(volunteer.location_updated_at),
        }
    alerts = []
    for alert in volunteer.alerts.select_related("incident__municipality").defer(
        "incident__municipality__area", "volunteer_location"
    ):
        alerts.append(
            {
                "id": alert.pk,
                "created_at": _iso(alert.created_at),
                "municipality": alert.incident.municipality.name,
                "pool": alert.pool,
                "state": alert.state,
                "role": alert.role,
                "approximate_distance_m": approximate_distance_m(alert.distance_m),
                "received_at": _iso(alert.received_at),
                "answered_at": _iso(alert.answered_at),
            }
        )
    return {
        "exported_at": _iso(timezone.now()),
        "profile": {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "phone": str(volunteer.phone),
            "phone_verified_at": _iso(volunteer.phone_verified_at),
            "date_of_birth": volunteer.date_of_birth.isoformat(),
            "first_aid_course_on": _iso(volunteer.first_aid_course_on),
            "is_heart_runner": volunteer.is_heart_runner,
            "corps": volunteer.local_area.name if volunteer.local_area else None,
            "is_available": volunteer.is_available,
            "quiet_hours_start": _iso(volunteer.quiet_hours_start),
            "quiet_hours_end": _iso(volunteer.quiet_hours_end),
            "created_at": _iso(volunteer.created_at),
        },
        "location": location,
        "consents": [
            {"text": c.kind, "version": c.version, "accepted_at": _iso(c.accepted_at)}
            for c in volunteer.consents.all()
        ],
        "devices": [
            {
                "id": d.pk,
                "platform": d.platform,
                "push_token": d.push_token,
                "is_active": d.is_active,
                "last_seen_at": _iso(d.last_seen_at),
                "created_at": _iso(d.created_at),
            }
            for d in volunteer.devices.all()
        ],
        "alerts": alerts,
        "debriefs": [
            {
                "alert_id": d.alert_id,
                "outcome": d.outcome,
                "comment": d.comment,
                "wants_call": d.wants_call,
                "created_at": _iso(d.created_at),
            }
            for d in volunteer.debriefs.all()
        ],
        "api_tokens": [
            {"created": _iso(t.created), "expiry": _iso(t.expiry)}
            for t in user.auth_token_set.all()
        ],
    }
