"""The region's own data for the simulator, read from the database as arrays: its incidents
(past ones, or synthetic ones placed by population), the app volunteers' positions, the AEDs
and their opening hours by hour of day, the ambulance per municipality, and the volunteers'
behaviour fitted from the platform's own alerts when there are enough of them."""

import datetime as dt
import random
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import F, FloatField, Func
from django.utils import timezone

from alerts.models import Alert
from amk.insight.simulation.geometry import to_plane
from amk.insight.simulation.params import Behaviour, Ems
from amk.models.incident import Incident
from amk.models.territory import Municipality
from amk.selectors.territory import service_region_anchor_sampler
from defibrillators.availability import LOCAL_TZ, opening_hours_is_open
from defibrillators.models import Defibrillator
from volunteers.models import REACHABLE_BY_APP, Volunteer

# Past incidents are used when there are at least this many; synthetic ones otherwise.
MIN_PAST_INCIDENTS = 50
# Alerts needed to fit acceptance and answer delay from the platform's own history.
MIN_ALERTS_TO_FIT = 200
# Synthetic incidents: around a populated place, spread by this much (metres, normal).
SPREAD_M = 1500.0
# Share of arrests by hour of day (assumed: fewer at night, as registries report).
HOUR_WEIGHTS = np.array(
    [2, 2, 1.5, 1.5, 1.5, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4.5, 4, 3, 2.5]
)


class _X(Func):
    template = "ST_X(%(expressions)s::geometry)"
    output_field = FloatField()


class _Y(Func):
    template = "ST_Y(%(expressions)s::geometry)"
    output_field = FloatField()


@dataclass
class Region:
    """Everything the model needs about the region, positions in metres on a local plane."""

    incident_xy: np.ndarray
    incident_hour: np.ndarray
    incident_municipality: np.ndarray  # index into municipality_codes
    municipality_codes: list[str]
    volunteer_xy: np.ndarray
    volunteer_open_by_hour: np.ndarray  # (volunteers, 24) bool: outside their quiet hours
    aed_xy: np.ndarray
    aed_open_by_hour: np.ndarray  # (aeds, 24) bool
    incidents_per_year: float
    source: str


def _outside_quiet_hours(start: dt.time | None, end: dt.time | None) -> list[bool]:
    """For each hour of the day (at half past): outside this quiet window? The rule of
    ``VolunteerQuerySet.outside_quiet_hours``: start inclusive, end exclusive, may wrap."""
    if start is None or end is None:
        return [True] * 24
    moments = [dt.time(h, 30) for h in range(24)]
    if start <= end:
        return [not (start <= t < end) for t in moments]
    return [end <= t < start for t in moments]


def _volunteers() -> tuple[np.ndarray, np.ndarray]:
    """The app pool's positions, and whether each may be alerted at each hour."""
    rows = list(
        Volunteer.objects.filter(REACHABLE_BY_APP)
        .adults()
        .annotate(_lon=_X(F("location")), _lat=_Y(F("location")))
        .values_list("_lon", "_lat", "quiet_hours_start", "quiet_hours_end")
    )
    lonlat = np.array([(r[0], r[1]) for r in rows], dtype=float).reshape(-1, 2)
    by_hour = np.array([_outside_quiet_hours(r[2], r[3]) for r in rows], dtype=bool)
    return lonlat, by_hour.reshape(-1, 24)


def _municipalities_of(lonlat: np.ndarray) -> list[str | None]:
    """The service region's municipality of each point (one query), None outside it."""
    if len(lonlat) == 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.i, m.code
            FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(x, y, i)
            JOIN amk_municipality m
              ON m.region_id = %s
             AND ST_Intersects(m.area, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))
            """,
            [lonlat[:, 0].tolist(), lonlat[:, 1].tolist(), settings.SERVICE_REGION_CODE],
        )
        found = dict(cursor.fetchall())
    return [found.get(i + 1) for i in range(len(lonlat))]


def _synthetic_incidents(n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Population-weighted incidents: a place drawn by its municipality's population (BY3),
    spread around it; those that fall outside the region (sea, neighbours) are drawn again."""
    sampler = service_region_anchor_sampler(population_csv=settings.REFERENCE_DATA_DIR / "BY3.csv")
    stream = random.Random(int(rng.integers(2**31)))  # noqa: S311 (simulation, not security)
    points: list[tuple[float, float]] = []
    codes: list[str] = []
    for _round in range(10):
        want = int((n - len(points)) * 1.3) + 10
        anchors = [sampler.draw(stream) for _ in range(want)]
        lon = np.array([a.lon for a in anchors])
        lat = np.array([a.lat for a in anchors])
        offset = rng.normal(0.0, SPREAD_M, (want, 2))
        lon = lon + np.degrees(offset[:, 0] / (6_371_008.8 * np.cos(np.radians(lat))))
        lat = lat + np.degrees(offset[:, 1] / 6_371_008.8)
        found = _municipalities_of(np.column_stack([lon, lat]))
        for x, y, code in zip(lon, lat, found, strict=True):
            if code is not None and len(points) < n:
                points.append((x, y))
                codes.append(code)
        if len(points) >= n:
            break
    return np.array(points).reshape(-1, 2), codes


def _past_incidents() -> tuple[np.ndarray, np.ndarray, list[str]]:
    rows = list(
        Incident.objects.filter(municipality__region_id=settings.SERVICE_REGION_CODE)
        .annotate(_lon=_X(F("location")), _lat=_Y(F("location")))
        .values_list("_lon", "_lat", "created_at", "municipality_id")
    )
    lonlat = np.array([(r[0], r[1]) for r in rows], dtype=float).reshape(-1, 2)
    hours = np.array([r[2].astimezone(LOCAL_TZ).hour for r in rows], dtype=np.int64)
    return lonlat, hours, [r[3] for r in rows]


def _aeds_open_by_hour(reference: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the AEDs anyone may fetch (public or restricted; private ones serve only
    their corps or owner) and whether each is usable at each hour of a reference weekday."""
    aeds = list(
        Defibrillator.objects.filter(status=Defibrillator.Status.ACTIVE)
        .exclude(access=Defibrillator.Access.PRIVATE)
        .annotate(_lon=_X(F("location")), _lat=_Y(F("location")))
        .values_list("_lon", "_lat", "opening_hours", "battery_expires_on", "pads_expire_on")
    )
    moments = [dt.datetime.combine(reference, dt.time(h, 30), tzinfo=LOCAL_TZ) for h in range(24)]
    by_hours: dict[str, list[bool]] = {}
    open_by_hour = np.zeros((len(aeds), 24), dtype=bool)
    for i, (_lon, _lat, hours, battery, pads) in enumerate(aeds):
        if (battery and battery < reference) or (pads and pads < reference):
            continue
        if hours not in by_hours:
            by_hours[hours] = [opening_hours_is_open(hours, m) for m in moments]
        open_by_hour[i] = by_hours[hours]
    lonlat = np.array([(a[0], a[1]) for a in aeds], dtype=float).reshape(-1, 2)
    return lonlat, open_by_hour


def region_load(*, incidents: int, source: str = "auto", seed: int = 16) -> Region:
    """The region's arrays: ``source`` "past" (the incidents on record, resampled to the
    number asked for), "synthetic" (population-weighted) or "auto" (past if there are enough)."""
    rng = np.random.default_rng(seed)
    past_lonlat, past_hours, past_codes = _past_incidents()
    use_past = source == "past" or (source == "auto" and len(past_lonlat) >= MIN_PAST_INCIDENTS)
    if use_past and len(past_lonlat):
        pick = rng.integers(0, len(past_lonlat), incidents)
        lonlat, hours = past_lonlat[pick], past_hours[pick]
        codes = [past_codes[i] for i in pick]
        used = "past"
    else:
        lonlat, codes = _synthetic_incidents(incidents, rng)
        hours = rng.choice(24, size=len(lonlat), p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
        used = "synthetic"
    volunteers, volunteer_open = _volunteers()
    today = timezone.now().astimezone(LOCAL_TZ).date()
    # A weekday's opening hours: the last Wednesday.
    aed_lonlat, aed_open = _aeds_open_by_hour(today - dt.timedelta(days=(today.weekday() - 2) % 7))
    lon0, lat0 = (float(v) for v in lonlat.mean(axis=0)) if len(lonlat) else (9.6, 56.2)
    municipality_codes = sorted(
        {c for c in codes if c}
        | set(
            Municipality.objects.filter(region_id=settings.SERVICE_REGION_CODE).values_list(
                "code", flat=True
            )
        )
    )
    index = {c: i for i, c in enumerate(municipality_codes)}
    return Region(
        incident_xy=to_plane(lonlat[:, 0], lonlat[:, 1], lon0=lon0, lat0=lat0),
        incident_hour=np.asarray(hours, dtype=np.int64),
        incident_municipality=np.array([index.get(c, 0) for c in codes], dtype=np.int64),
        municipality_codes=municipality_codes,
        volunteer_xy=to_plane(volunteers[:, 0], volunteers[:, 1], lon0=lon0, lat0=lat0),
        volunteer_open_by_hour=volunteer_open,
        aed_xy=to_plane(aed_lonlat[:, 0], aed_lonlat[:, 1], lon0=lon0, lat0=lat0),
        aed_open_by_hour=aed_open,
        incidents_per_year=settings.SIMULATION_INCIDENTS_PER_YEAR,
        source=used,
    )


def ems_configured() -> Ems:
    """The ambulance's response from settings (SIMULATION_EMS_*)."""
    return Ems(
        default_median_s=settings.SIMULATION_EMS_MEDIAN_S,
        default_iqr_s=settings.SIMULATION_EMS_IQR_S,
        by_municipality={
            str(code): (float(v[0]), float(v[1]))
            for code, v in settings.SIMULATION_EMS_BY_MUNICIPALITY.items()
        },
    )


def behaviour_fitted(default: Behaviour | None = None) -> Behaviour:
    """Acceptance, decline and answer delay from the platform's own app alerts once there are
    ``MIN_ALERTS_TO_FIT`` that ended; the published-range defaults otherwise."""
    default = default or Behaviour()
    finished = Alert.objects.filter(pool=Alert.Pool.APP).exclude(state__in=Alert.WAITING_STATES)
    total = finished.count()
    if total < MIN_ALERTS_TO_FIT:
        return default
    declined = finished.filter(state=Alert.State.DECLINED).count()
    answered = list(
        finished.filter(answered_at__isnull=False).values_list("created_at", "answered_at")
    )
    accepted = len(answered) - declined
    delays = np.array([(b - a).total_seconds() for a, b in answered if b > a])
    if len(delays) < 20:
        return default
    logs = np.log(delays)
    q1, median, q3 = np.percentile(logs, [25, 50, 75])
    return Behaviour(
        p_accept=max(accepted, 0) / total,
        p_decline=declined / total,
        answer_median_s=float(np.exp(median)),
        answer_sigma=float((q3 - q1) / (2 * 0.6744897501960817)),
        source=f"fitted from {total} of the platform's own app alerts",
    )
