"""A volunteer's current position: the update (one prepared statement that also rate-limits
and, for the fast path, authenticates), clearing it, and its retention. Only the latest is
kept."""

import datetime as dt
import enum
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone
from knox.settings import knox_settings

from config.postgis.prepared import PreparedStatement
from volunteers.models import Volunteer


class LocationOutcome(enum.Enum):
    STORED = "stored"
    OLDER = "older"  # an older reading than the stored one, arriving late: ignored
    TOO_SOON = "too_soon"  # within LOCATION_MIN_INTERVAL_S of the last stored one
    JUMP = "jump"  # farther from the stored one than anyone could travel: refused and flagged
    NO_PROFILE = "no_profile"
    UNAUTHENTICATED = "unauthenticated"  # only when identified by token


@dataclass(frozen=True)
class LocationResult:
    outcome: LocationOutcome
    retry_after_s: int = 0


# Who is reporting: the user the API already authenticated, or (the fast path) the knox token,
# checked here as knox.auth.TokenAuthentication does (digest, expiry, active user) and renewed
# as its AUTO_REFRESH does, so the request needs no other query.
_REPORTER_BY_USER = "SELECT %(user_id)s::integer AS user_id"
_REPORTER_BY_TOKEN = """
    SELECT t.user_id FROM knox_authtoken t JOIN auth_user u ON u.id = t.user_id
    WHERE t.digest = %(digest)s::text AND u.is_active
      AND (t.expiry IS NULL OR t.expiry >= %(now)s::timestamptz)
"""  # noqa: S105  SQL, not a secret
_TOKEN_RENEWAL = """
    renewed AS (
        UPDATE knox_authtoken t
        SET expiry = LEAST(%(now)s::timestamptz + %(ttl)s::interval,
                           t.created + %(max_ttl)s::interval)
        WHERE t.digest = %(digest)s::text AND t.expiry IS NOT NULL AND %(auto_refresh)s::boolean
          AND EXISTS (SELECT 1 FROM reporter)
          AND LEAST(%(now)s::timestamptz + %(ttl)s::interval, t.created + %(max_ttl)s::interval)
              > t.expiry + %(min_refresh)s::interval
    ),
"""  # noqa: S105  SQL, not a secret
# The reading, and whether it is a jump from the stored position that no one could travel:
# farther, less both accuracies, than LOCATION_JUMP_MAX_SPEED_MPS allows in the time between the
# two measurements (so a far position hours later is fine). The one statement of the rule, for
# the API and the fast path alike.
_NEW_POINT = "ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4326)::geography"
_IS_JUMP = f"""
    (v.location IS NOT NULL
     AND v.location_updated_at <= %(measured_at)s::timestamptz
     AND ST_Distance(v.location, {_NEW_POINT}, false)
         - coalesce(v.location_accuracy_m, 0) - %(accuracy_m)s::integer
         > %(max_speed)s::float8
           * extract(epoch FROM %(measured_at)s::timestamptz - v.location_updated_at))
"""
_NOT_TOO_SOON = """
    (location_received_at IS NULL
     OR location_received_at <= %(now)s::timestamptz - %(interval)s::interval)
"""
# A jump is refused, and flagged once per stored position it jumped from (a phone that keeps
# sending it, or the same request again through the API, adds no flag).
_LOCATION_UPDATE_SQL = f"""
    WITH reporter AS ({{reporter}}),
    {{renewal}}
    me AS (
        SELECT v.location_received_at, {_IS_JUMP} AS jump FROM volunteers_volunteer v
        WHERE v.user_id = (SELECT user_id FROM reporter)
    ),
    moved AS (
        UPDATE volunteers_volunteer
        SET location = {_NEW_POINT},
            location_updated_at = %(measured_at)s::timestamptz,
            location_accuracy_m = %(accuracy_m)s::integer,
            location_received_at = %(now)s::timestamptz,
            updated_at = %(now)s::timestamptz
        WHERE user_id = (SELECT user_id FROM reporter)
          AND (location_updated_at IS NULL
               OR location_updated_at <= %(measured_at)s::timestamptz)
          AND {_NOT_TOO_SOON}
          AND NOT (SELECT jump FROM me)
        RETURNING 1
    ),
    flagged AS (
        UPDATE volunteers_volunteer
        SET location_jumps = location_jumps + 1, location_jump_at = %(measured_at)s::timestamptz
        WHERE user_id = (SELECT user_id FROM reporter)
          AND (SELECT jump FROM me)
          AND {_NOT_TOO_SOON}
          AND (location_jump_at IS NULL OR location_jump_at < location_updated_at)
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM reporter), EXISTS (SELECT 1 FROM me),
           (SELECT location_received_at FROM me), EXISTS (SELECT 1 FROM moved),
           coalesce((SELECT jump FROM me), false)
"""  # noqa: S608  constant SQL: values are parameters
_LOCATION_UPDATE_BY_USER = PreparedStatement(
    "volunteer_location_update_by_user",
    _LOCATION_UPDATE_SQL.format(reporter=_REPORTER_BY_USER, renewal=""),
)
_LOCATION_UPDATE_BY_TOKEN = PreparedStatement(
    "volunteer_location_update_by_token",
    _LOCATION_UPDATE_SQL.format(reporter=_REPORTER_BY_TOKEN, renewal=_TOKEN_RENEWAL),
)


def volunteer_location_update(
    *,
    lon: float,
    lat: float,
    measured_at: dt.datetime,
    accuracy_m: int,
    user_id: int | None = None,
    token_digest: str | None = None,
) -> LocationResult:
    """Keep only the latest position, at most one every LOCATION_MIN_INTERVAL_S: one statement,
    which also tells why nothing was stored (an older reading, too soon, no profile, a jump no
    one could travel: refused and counted on the volunteer, see _IS_JUMP).

    The hottest write of the system (every app, every few minutes), prepared once per database
    session (config.postgis.prepared). Outside a transaction it commits without waiting for the
    WAL flush (``synchronous_commit`` off for this statement only): a crash can lose the last
    fraction of a second of positions, which the phones send again anyway, and the request does
    not queue behind the disk. Alerts, incidents and every other write keep the synchronous
    commit. Given ``token_digest`` instead of ``user_id``, it also authenticates the knox token
    (volunteers.fastpath).
    """
    now = timezone.now()
    interval = dt.timedelta(seconds=settings.LOCATION_MIN_INTERVAL_S)
    statement = _LOCATION_UPDATE_BY_USER if token_digest is None else _LOCATION_UPDATE_BY_TOKEN
    # One simple-protocol query string: PostgreSQL runs both statements as one implicit
    # transaction, so SET LOCAL applies to this UPDATE and ends with it.
    prefix = "" if connection.in_atomic_block else "SET LOCAL synchronous_commit TO OFF;"
    with connection.cursor() as cursor:
        statement.execute(
            cursor,
            {
                "user_id": user_id,
                "digest": token_digest,
                "lon": lon,
                "lat": lat,
                "measured_at": measured_at,
                "accuracy_m": accuracy_m,
                "now": now,
                "interval": interval,
                "max_speed": settings.LOCATION_JUMP_MAX_SPEED_MPS,
                "auto_refresh": bool(knox_settings.AUTO_REFRESH),
                "ttl": knox_settings.TOKEN_TTL,
                "max_ttl": knox_settings.AUTO_REFRESH_MAX_TTL or dt.timedelta(days=36500),
                "min_refresh": dt.timedelta(seconds=knox_settings.MIN_REFRESH_INTERVAL),
            },
            prefix=prefix,
        )
        authenticated, has_profile, received_at, moved, jump = cursor.fetchone()
    if not authenticated:
        return LocationResult(LocationOutcome.UNAUTHENTICATED)
    if not has_profile:
        return LocationResult(LocationOutcome.NO_PROFILE)
    if moved:
        return LocationResult(LocationOutcome.STORED)
    if received_at is not None and received_at > now - interval:
        wait = (received_at + interval - now).total_seconds()
        return LocationResult(LocationOutcome.TOO_SOON, retry_after_s=max(1, math.ceil(wait)))
    if jump:
        return LocationResult(LocationOutcome.JUMP)
    return LocationResult(LocationOutcome.OLDER)


def volunteer_location_clear(*, volunteer: Volunteer) -> None:
    Volunteer.objects.filter(pk=volunteer.pk).update(
        location=None, location_updated_at=None, location_accuracy_m=None, updated_at=timezone.now()
    )


# Retention (Celery beat, volunteers/tasks.py).


def volunteer_locations_expire(*, now: dt.datetime | None = None) -> int:
    """Clear current locations older than LOCATION_RETENTION_S: no history, nothing stale."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.LOCATION_RETENTION_S)
    return Volunteer.objects.filter(location_updated_at__lt=cutoff).update(
        location=None, location_updated_at=None, location_accuracy_m=None, location_received_at=None
    )
