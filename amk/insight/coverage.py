"""The coverage grid: its squares over the region, and the refresh of its counts by beat.

The grid is COVERAGE_CELL_M squares in UTM zone 32N (EPSG:25832, metres) whose centre lies in
the service region, made once (and again when the cell size changes). Every refresh counts, in
one statement, the volunteers the app could alert now (the rules of candidate selection:
``Volunteer.objects.dispatchable``) within 500 m, 1 km and 2 km of each centre (ST_DWithin on
the GiST indexes), and the AEDs available now within 1 km; and folds the counts into running
averages for the current local hour of day. No position and no person is stored: only the
counts of now, which the next refresh overwrites, and the averages.
"""

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from alerts.models import AedUse, Alert
from alerts.selectors.policy import dispatch_policy_current
from amk.models.coverage import CoverageCell
from defibrillators.availability import opening_hours_is_open
from defibrillators.models import Defibrillator
from volunteers.models import Volunteer

# Materialised steps: the region is transformed once (not once per square), and each square's
# centre is tested against the region, the municipalities and the local areas in EPSG:4326.
_GRID_SQL = """
WITH r AS MATERIALIZED (
    SELECT area AS area_4326, ST_Transform(area, 25832) AS area_utm
    FROM amk_region WHERE code = %(region)s
), g AS MATERIALIZED (
    SELECT q.i, q.j, q.geom, ST_Transform(ST_Centroid(q.geom), 4326) AS centre
    FROM r, LATERAL ST_SquareGrid(%(size)s, r.area_utm) q
), inside AS MATERIALIZED (
    SELECT g.* FROM g, r WHERE ST_Intersects(r.area_4326, g.centre)
)
INSERT INTO amk_coveragecell (
    code, centre, square, municipality_id, local_area_id,
    within_500, within_1000, within_2000, aeds_1000,
    hourly_500, hourly_1000, hourly_2000, hourly_samples, computed_at)
SELECT %(prefix)s || 'E' || g.i || 'N' || g.j,
       g.centre::geography,
       ST_Transform(g.geom, 4326),
       (SELECT m.code FROM amk_municipality m
        WHERE ST_Intersects(m.area, g.centre) ORDER BY m.code LIMIT 1),
       (SELECT la.id FROM volunteers_localarea la
        WHERE ST_Intersects(la.area, g.centre) ORDER BY la.id LIMIT 1),
       0, 0, 0, 0,
       array_fill(0::float8, ARRAY[24]), array_fill(0::float8, ARRAY[24]),
       array_fill(0::float8, ARRAY[24]), array_fill(0, ARRAY[24]), NULL
FROM inside g
"""

_REFRESH_SQL = """
WITH v AS ({volunteers}),
hits AS (
    SELECT c.id, ST_Distance(c.centre, v.location) AS d
    FROM v JOIN amk_coveragecell c ON ST_DWithin(c.centre, v.location, 2000)
),
agg AS (
    SELECT id, count(*) FILTER (WHERE d <= 500) AS n500,
           count(*) FILTER (WHERE d <= 1000) AS n1000, count(*) AS n2000
    FROM hits GROUP BY id
),
aed AS (
    SELECT c.id, count(*) AS n
    FROM ({aeds}) a JOIN amk_coveragecell c ON ST_DWithin(c.centre, a.location, 1000)
    GROUP BY c.id
),
fresh AS (
    SELECT c.id, COALESCE(agg.n500, 0) AS n500, COALESCE(agg.n1000, 0) AS n1000,
           COALESCE(agg.n2000, 0) AS n2000, COALESCE(aed.n, 0) AS naed,
           LEAST(c.hourly_samples[%s] + 1, %s) AS w
    FROM amk_coveragecell c LEFT JOIN agg ON agg.id = c.id LEFT JOIN aed ON aed.id = c.id
)
UPDATE amk_coveragecell c SET
    within_500 = f.n500, within_1000 = f.n1000, within_2000 = f.n2000, aeds_1000 = f.naed,
    hourly_500[%s] = c.hourly_500[%s] + (f.n500 - c.hourly_500[%s]) / f.w,
    hourly_1000[%s] = c.hourly_1000[%s] + (f.n1000 - c.hourly_1000[%s]) / f.w,
    hourly_2000[%s] = c.hourly_2000[%s] + (f.n2000 - c.hourly_2000[%s]) / f.w,
    hourly_samples[%s] = f.w,
    computed_at = %s
FROM fresh f WHERE f.id = c.id
"""


_NO_AEDS = ("SELECT NULL::geography AS location WHERE FALSE", ())


def _prefix(size_m: int) -> str:
    return f"{size_m}m:"


@transaction.atomic
def coverage_grid_build(*, size_m: int | None = None) -> int:
    """(Re)make the grid's squares over the service region; returns how many there are."""
    size_m = size_m or settings.COVERAGE_CELL_M
    CoverageCell.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(
            _GRID_SQL,
            {"prefix": _prefix(size_m), "size": size_m, "region": settings.SERVICE_REGION_CODE},
        )
        return cursor.rowcount


def coverage_grid_ensure() -> None:
    """Make the grid if there is none, or if its squares are not of the configured size."""
    prefix = _prefix(settings.COVERAGE_CELL_M)
    cells = CoverageCell.objects.all()
    if not cells.exists() or cells.exclude(code__startswith=prefix).exists():
        coverage_grid_build()


def _available_volunteers_sql(now: dt.datetime) -> tuple[str, tuple]:
    policy = dispatch_policy_current()
    busy = Alert.objects.keeping_busy(
        rest_since=now - dt.timedelta(seconds=policy.cooldown_after_incident_s)
    )
    queryset = Volunteer.objects.dispatchable(
        fresh_since=now - dt.timedelta(seconds=policy.location_max_age_s),
        local_time=timezone.localtime(now).time(),
        busy=busy,
    ).values("location")
    return queryset.query.sql_with_params()


def _available_aeds_sql(now: dt.datetime) -> tuple[str, tuple]:
    """The AEDs one could be sent to now: active, not expired, open by their hours, not in use.
    Opening hours are parsed in Python, once per distinct text (a few dozen), not per AED."""
    today = timezone.localdate(now)
    usable = Defibrillator.objects.active().not_expired(today=today)
    hours = usable.values_list("opening_hours", flat=True).distinct()
    open_now = [h for h in hours if opening_hours_is_open(h, now)]
    if not open_now:
        return _NO_AEDS
    queryset = (
        usable.filter(opening_hours__in=open_now)
        .exclude(Exists(AedUse.objects.filter(aed=OuterRef("pk"), ended_at__isnull=True)))
        .values("location")
    )
    return queryset.query.sql_with_params()


@transaction.atomic
def coverage_refresh(*, now: dt.datetime | None = None) -> int:
    """Count now, for every square, and fold the counts into this hour of day's averages;
    returns how many squares were updated (0 when another refresh is running)."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        # One refresh at a time: a run overlapping a slow one would count its hour twice.
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext('amk.coverage_refresh'))")
        if not cursor.fetchone()[0]:
            return 0
    coverage_grid_ensure()
    volunteers_sql, volunteers_params = _available_volunteers_sql(now)
    aeds_sql, aeds_params = _available_aeds_sql(now)
    index = timezone.localtime(now).hour + 1  # PostgreSQL arrays start at 1
    window = settings.COVERAGE_HOUR_SAMPLES
    params = (
        *volunteers_params,
        *aeds_params,
        index,
        window,
        *([index] * 9),
        index,
        now,
    )
    sql = _REFRESH_SQL.format(volunteers=volunteers_sql, aeds=aeds_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
