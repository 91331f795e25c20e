"""Candidate selection: who a wave alerts, by one indexed PostGIS query (the dispatch hot path)."""

import datetime as dt
import functools
from typing import NamedTuple, cast

from django.contrib.gis.geos import Point
from django.contrib.gis.geos.geometry import GEOSGeometryBase
from django.contrib.gis.geos.prototypes.io import wkb_r
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, DispatchPolicy
from alerts.selectors.policy import policy_vetting
from amk.models.incident import Incident
from config.postgis.prepared import PreparedStatement
from volunteers.models import AdultBirthdateLimit


class Candidate(NamedTuple):
    """One person to alert (a named tuple: a wave builds dozens, in the dispatch hot path)."""

    volunteer_id: int
    pool: str
    distance_m: int | None
    location: Point | None


# Volunteers in their quiet hours (a window that may wrap past midnight) are not alerted.
_NOT_IN_QUIET_HOURS = """
      AND NOT (
        v.quiet_hours_start IS NOT NULL AND v.quiet_hours_end IS NOT NULL AND CASE
          WHEN v.quiet_hours_start <= v.quiet_hours_end
            THEN %(local_time)s >= v.quiet_hours_start AND %(local_time)s < v.quiet_hours_end
          ELSE %(local_time)s >= v.quiet_hours_start OR %(local_time)s < v.quiet_hours_end END
      )
"""


# The vetting the policy asks of both pools (volunteers.models.dispatchable.Vetting, built by
# alerts.selectors.policy.policy_vetting): approval, a recent enough course, few position jumps.
# A column each, checked on the rows the walk reaches, not in the index: the policy may change.
_VETTED = """
      AND (NOT %(require_approval)s OR v.approved_at IS NOT NULL)
      AND (%(course_since)s IS NULL OR v.first_aid_course_on >= %(course_since)s)
      AND (%(max_jumps)s IS NULL OR v.location_jumps < %(max_jumps)s)
"""


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# One responder, one incident: nobody engaged on an open incident (Alert.objects.engaged()),
# nor anyone whose engagement ended after rest_since (the policy's rest period), as
# Alert.objects.keeping_busy() states it. Per person walked, an index scan of the partial
# index alert_engagement_idx (the engagements, by volunteer): a handful of rows at most.
_NOT_BUSY = f"""
      AND NOT EXISTS (
        SELECT 1 FROM alerts_alert e JOIN amk_incident i ON i.id = e.incident_id
        WHERE e.volunteer_id = v.id
          AND e.answered_at IS NOT NULL
          AND e.state IN ({_sql_list(Alert.ENGAGEMENT_STATES)})
          AND (e.ended_at > %(rest_since)s
               OR (e.state IN ({_sql_list(Alert.ENGAGED_STATES)})
                   AND i.state IN ({_sql_list(Incident.OPEN_STATES)})))
      )
"""  # noqa: S608  constant SQL: the states are the models' own constants

# The parameters of the candidate query and their SQL types, in the order of the prepared
# statement (typed, so that the point is parsed once per call, not once per row).
_CANDIDATES_PARAMS = {
    "include_corps": "boolean",
    "point": "geography",
    "incident_id": "bigint",
    "local_time": "time",
    "fresh_since": "timestamptz",
    "radius_m": "float8",
    "rest_since": "timestamptz",
    "require_approval": "boolean",
    "course_since": "date",
    "max_jumps": "integer",
}

# Both pools in one round trip. The corps: every available member of the local area(s) that
# contain the incident (first wave only). The app pool: nearest first by the partial GiST index
# volunteer_dispatchable_fresh_loc_idx (declared in Volunteer.Meta: KNN `<->` over the location,
# the freshness checked inside the index, then LIMIT and the radius); a corps member found there
# is left out, as they are alerted once, as a corps member. Neither pool has anyone engaged
# elsewhere or resting after an incident (_NOT_BUSY). The LIMIT is a literal (one statement
# per wave size), so that the generic plan knows it reads a few rows (see _GENERIC_PLAN).
# The app pool's rules are those of Volunteer.objects.dispatchable(): a differential test
# (tests/alerts/test_selection_differential.py) checks that both choose the same people.
_CANDIDATES_SQL = f"""
    WITH areas AS (
      SELECT la.id FROM volunteers_localarea la
      WHERE %(include_corps)s AND ST_Intersects(la.area, %(point)s::geometry)
    ),
    corps AS (
      SELECT v.id, 0 AS pool, ST_Distance(v.location, %(point)s) AS distance_m,
             v.location, NULL::float8 AS knn
      FROM volunteers_volunteer v
      WHERE v.local_area_id IN (SELECT id FROM areas)
        AND v.is_available
        {_VETTED}
        {_NOT_IN_QUIET_HOURS}
        AND NOT EXISTS (
          SELECT 1 FROM alerts_alert a
          WHERE a.incident_id = %(incident_id)s AND a.volunteer_id = v.id
        )
        {_NOT_BUSY}
    ),
    app AS (
      -- The KNN walk stops after LIMIT eligible people; the radius then trims the few it found,
      -- on the distance measured once for them on the spheroid (the one shown to people).
      -- (With ST_DWithin inside, PostgreSQL misjudges how many rows the geography box keeps
      -- and sorts every eligible person in the radius instead.)
      SELECT id, 1 AS pool, distance_m, location, knn
      FROM (
        SELECT v.id, v.location, v.location <-> %(point)s AS knn,
               ST_Distance(v.location, %(point)s) AS distance_m
        FROM volunteers_volunteer v
        WHERE v.is_heart_runner AND v.is_available
          AND v.phone_verified_at IS NOT NULL
          AND v.location IS NOT NULL
          AND v.date_of_birth <= {AdultBirthdateLimit.template}
          AND v.location_updated_at >= %(fresh_since)s
          {_VETTED}
          {_NOT_IN_QUIET_HOURS}
          AND (v.local_area_id IS NULL OR v.local_area_id NOT IN (SELECT id FROM areas))
          AND NOT EXISTS (
            SELECT 1 FROM alerts_alert a
            WHERE a.incident_id = %(incident_id)s AND a.volunteer_id = v.id
          )
          {_NOT_BUSY}
        ORDER BY knn
        LIMIT {{limit:d}}
      ) nearest
      WHERE distance_m <= %(radius_m)s
    )
    SELECT id, pool, distance_m, ST_AsEWKB(location::geometry)
    FROM (SELECT * FROM corps UNION ALL SELECT * FROM app) candidates
    ORDER BY pool, coalesce(knn, distance_m) NULLS LAST, id
"""  # noqa: S608  constant SQL; values are parameters, LIMIT an int literal (see above)

_POOLS = (Alert.Pool.CORPS, Alert.Pool.APP)

# Left to choose, PostgreSQL compares the generic plan with the cost of the first five custom
# plans of a connection; when those were later waves (no corps, cheaper), it plans every call
# afresh for the life of the connection, which takes longer than running it. The generic plan
# is the same KNN walk, as the LIMIT is a literal. SET LOCAL ends with the transaction:
# the implicit one of the query string, or the caller's, where only prepared statements see it.
_GENERIC_PLAN = "SET LOCAL plan_cache_mode TO force_generic_plan; "


@functools.cache
def _candidates_statement(limit: int) -> PreparedStatement:
    """The candidate query for waves of `limit` app volunteers, prepared once per connection."""
    return PreparedStatement(
        f"alerts_candidates_{limit:d}",
        _CANDIDATES_SQL.format(limit=limit),
        types=_CANDIDATES_PARAMS,
    )


def metres_between(a: Point, b: Point) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ST_Distance(%s::geography, %s::geography)", [a.ewkt, b.ewkt])
        return cursor.fetchone()[0]


def dispatch_candidates(
    *,
    incident_id: int,
    point: Point,
    policy: DispatchPolicy,
    radius_m: int,
    include_corps: bool,
    now: dt.datetime | None = None,
    limit: int | None = None,
) -> list[Candidate]:
    """Who to alert now: the local corps (first wave) and the nearest qualifying app volunteers,
    at most ``limit`` of them (by default the policy's wave size).

    Volunteers already alerted for the incident are left out, so is anyone engaged on another
    open incident or resting after one (the policy's `cooldown_after_incident_s`), anyone the
    policy's vetting leaves out (approval, course, position jumps: both pools), and a
    person in both pools is alerted once, as a corps member (they are the ones with the local
    AED). A corps member without a known position has no distance (None).
    """
    params = _candidates_params(
        incident_id=incident_id,
        point=point,
        policy=policy,
        radius_m=radius_m,
        include_corps=include_corps,
        now=now or timezone.now(),
    )
    with connection.cursor() as cursor:
        _candidates_statement(limit or policy.app_volunteers_per_wave).execute(
            cursor, params, prefix=_GENERIC_PLAN
        )
        rows = cursor.fetchall()
    read_wkb = wkb_r().read  # as Django's PostGIS backend reads geometries: half the GEOS calls
    return [
        Candidate(
            volunteer_id,
            _POOLS[pool],
            round(distance) if distance is not None else None,
            cast(Point, GEOSGeometryBase(read_wkb(wkb), Point)) if wkb is not None else None,
        )
        for volunteer_id, pool, distance, wkb in rows
    ]


def _candidates_params(
    *,
    incident_id: int,
    point: Point,
    policy: DispatchPolicy,
    radius_m: int,
    include_corps: bool,
    now: dt.datetime,
) -> dict[str, object]:
    vetting = policy_vetting(policy, now=now)
    return {
        "include_corps": include_corps,
        "point": point.hexewkb.decode(),
        "incident_id": incident_id,
        "local_time": timezone.localtime(now).time(),
        "fresh_since": now - dt.timedelta(seconds=policy.location_max_age_s),
        "radius_m": radius_m,
        "rest_since": now - dt.timedelta(seconds=policy.cooldown_after_incident_s),
        "require_approval": vetting.require_approval,
        "course_since": vetting.course_since,
        "max_jumps": vetting.max_location_jumps,
    }
