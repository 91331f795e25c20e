"""Reads for the territory: the service region, point lookups, place search."""

import bisect
import collections
import csv
import datetime as dt
import functools
import itertools
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from django.conf import settings
from django.contrib.gis.db.models.functions import Distance, PointOnSurface
from django.contrib.gis.geos import GEOSGeometry, Point
from django.contrib.gis.geos.prepared import PreparedGeometry
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Length
from django.utils import timezone
from django.utils.translation import get_language, gettext

from amk.models import Incident, IncidentEvent, Municipality, Place, Postcode, Region
from config.exceptions import ApplicationError

METRES_PER_DEGREE_LAT = 111_320
# Denmark with Bornholm and Christiansø (lon_min, lat_min, lon_max, lat_max), for input checks.
DENMARK_BBOX = (8.0, 54.5, 15.25, 57.8)


# Land within about a kilometre of the simplified municipality outlines the maps draw.
DENMARK_SHORE_MARGIN_DEGREES = 0.015


@functools.cache
def _denmark_land() -> PreparedGeometry:
    """Built once per process from a static file: no query on the hot location path."""
    path = settings.BASE_DIR / "config" / "static" / "geo" / "kommuner.geojson"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    land = GEOSGeometry(json.dumps(features[0]["geometry"]))
    for feature in features[1:]:
        land = land.union(GEOSGeometry(json.dumps(feature["geometry"])))
    return land.buffer(DENMARK_SHORE_MARGIN_DEGREES).prepared


def within_denmark(*, lon: float, lat: float) -> bool:
    """On Danish land (or just off the shore): the bounding box first, then the outlines."""
    lon_min, lat_min, lon_max, lat_max = DENMARK_BBOX
    if not (lon_min <= lon <= lon_max and lat_min <= lat <= lat_max):
        return False
    return _denmark_land().contains(Point(lon, lat, srid=4326))


def service_region() -> Region:
    """The region this installation dispatches in (settings.SERVICE_REGION_CODE)."""
    try:
        return Region.objects.get(code=settings.SERVICE_REGION_CODE)
    except Region.DoesNotExist:
        raise ApplicationError(
            f"Region {settings.SERVICE_REGION_CODE} is not loaded: run load_geography first."
        ) from None


def municipality_containing(
    *, point: Point, service_region_only: bool = True
) -> Municipality | None:
    """The municipality a point lies in; by default only those the service region covers."""
    municipalities = Municipality.objects.filter(area__intersects=point).defer("area")
    if service_region_only:
        municipalities = municipalities.filter(region_id=settings.SERVICE_REGION_CODE)
    return municipalities.first()


def point_in_service_region(*, point: Point) -> bool:
    return Region.objects.filter(code=settings.SERVICE_REGION_CODE, area__intersects=point).exists()


@dataclass(frozen=True)
class PlaceMatch:
    """One hit of the dispatcher's place search: a gazetteer place or a postcode area."""

    kind: str  # "place" or "postcode"
    label: str
    point: Point
    municipality: str
    in_service_region: bool


def _spelling_variants(query: str) -> set[str]:
    """'Aarhus' and 'Århus' name the same town: search both spellings of å."""
    query = query.lower()
    return {query, query.replace("aa", "å"), query.replace("å", "aa")}


def _name_match(variants: set[str]) -> tuple[Q, Case]:
    """Names that start with the query, or have a word that does; exact hits rank first."""
    match, exact, prefix = Q(), Q(), Q()
    for variant in variants:
        prefix |= Q(name__istartswith=variant)
        exact |= Q(name__iexact=variant)
        match |= Q(name__istartswith=variant)
        match |= Q(name__icontains=f" {variant}") | Q(name__icontains=f"-{variant}")
    rank = Case(
        When(exact, then=Value(0)),
        When(prefix, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return match, rank


def _postcode_hits(postcodes: QuerySet, limit: int) -> list[tuple[int, str, PlaceMatch]]:
    surface_municipality = Municipality.objects.filter(area__intersects=OuterRef("surface"))
    postcodes = (
        postcodes.defer("area")
        .annotate(
            surface=PointOnSurface("area"),
            municipality_name=Subquery(surface_municipality.values("name")[:1]),
            region_code=Subquery(surface_municipality.values("region_id")[:1]),
        )
        .order_by("rank", "number")[:limit]
    )
    return [
        (
            p.rank,
            p.name,
            PlaceMatch(
                kind="postcode",
                label=f"{p.number} {p.name}",
                point=p.surface,
                municipality=p.municipality_name or "",
                in_service_region=p.region_code == settings.SERVICE_REGION_CODE,
            ),
        )
        for p in postcodes
    ]


def _place_hits(places: QuerySet, limit: int) -> list[tuple[int, str, PlaceMatch]]:
    places = (
        places.select_related("municipality")
        .defer("municipality__area")
        .annotate(
            in_region=Case(
                When(municipality__region_id=settings.SERVICE_REGION_CODE, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .order_by("-in_region", "rank", Length("name"), "name")[:limit]
    )
    return [
        (
            p.rank,
            p.name,
            PlaceMatch(
                kind="place",
                label=p.name,
                point=p.point,
                municipality=p.municipality.name if p.municipality else "",
                in_service_region=p.in_region,
            ),
        )
        for p in places
    ]


def place_search(*, query: str, limit: int = 10) -> list[PlaceMatch]:
    """Places and postcodes for a typed name or postcode prefix; the service region first."""
    query = " ".join(query.split())
    if not query:
        return []
    if query.isdigit():
        postcodes = Postcode.objects.filter(number__startswith=query).annotate(rank=Value(1))
        matches = [match for _, _, match in _postcode_hits(postcodes, limit)]
        return sorted(matches, key=lambda match: not match.in_service_region)
    match, rank = _name_match(_spelling_variants(query))
    hits = _postcode_hits(Postcode.objects.filter(match).annotate(rank=rank), limit)
    hits += _place_hits(Place.objects.filter(match).annotate(rank=rank), limit)
    hits.sort(key=lambda hit: (not hit[2].in_service_region, hit[0], len(hit[1]), hit[1]))
    return [match for _, _, match in hits[:limit]]


@dataclass(frozen=True)
class Anchor:
    """A real place synthetic people and AEDs are put near."""

    name: str
    lon: float
    lat: float

    def jittered(self, rng: random.Random, max_m: float) -> tuple[float, float]:
        """A point uniformly within max_m of the anchor (good enough on a few km)."""
        distance, bearing = max_m * math.sqrt(rng.random()), rng.random() * 2 * math.pi
        dlat = distance * math.cos(bearing) / METRES_PER_DEGREE_LAT
        dlon = (
            distance
            * math.sin(bearing)
            / (METRES_PER_DEGREE_LAT * math.cos(math.radians(self.lat)))
        )
        return round(self.lon + dlon, 6), round(self.lat + dlat, 6)


class AnchorSampler:
    """Draws places so that municipalities come up in proportion to their population."""

    def __init__(self, weighted: list[tuple[int, list[Anchor]]]):
        self._anchors = [anchors for _, anchors in weighted]
        self._cumulative = list(itertools.accumulate(weight for weight, _ in weighted))

    def draw(self, rng: random.Random) -> Anchor:
        index = bisect.bisect_right(self._cumulative, rng.random() * self._cumulative[-1])
        anchors = self._anchors[index]
        return anchors[rng.randrange(len(anchors))]


def _municipality_key(name: str) -> str:
    # BY3 writes "Høje-Taastrup" where DAGI has "Høje Taastrup".
    return name.casefold().replace("-", " ")


def _population_by_municipality(path: Path) -> dict[str, int]:
    if not path.is_file():
        raise ApplicationError(f"File not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {
            _municipality_key(row["Kommune"]): int(row["Befolkningstal"])
            for row in csv.DictReader(fh)
        }


def service_region_anchor_sampler(*, population_csv: Path) -> AnchorSampler:
    """Places in the service region, weighted by municipality population (BY3)."""
    population = _population_by_municipality(population_csv)
    municipalities = list(
        Municipality.objects.filter(region_id=settings.SERVICE_REGION_CODE)
        .annotate(surface=PointOnSurface("area"))
        .defer("area")
        .order_by("code")
    )
    if not municipalities:
        raise ApplicationError("No municipalities in the service region: run load_geography.")
    places = Place.objects.filter(municipality__in=municipalities)
    by_municipality = {
        code: [Anchor(p.name, p.point.x, p.point.y) for p in group]
        for code, group in itertools.groupby(
            sorted(places, key=lambda p: (p.municipality_id, p.name, p.point.x, p.point.y)),
            key=lambda p: p.municipality_id,
        )
    }
    weighted = []
    for municipality in municipalities:
        key = _municipality_key(municipality.name)
        if key not in population:
            raise ApplicationError(f"{population_csv}: no population for {municipality.name}")
        fallback = [Anchor(municipality.name, municipality.surface.x, municipality.surface.y)]
        weighted.append((population[key], by_municipality.get(municipality.code, fallback)))
    return AnchorSampler(weighted)


# --- The dispatcher console ------------------------------------------------------------------

CONSOLE_ENDED_WITHIN = dt.timedelta(hours=24)
BOARD_AED_RADIUS_M = 2000
# A dispatched incident still pending after this long means the queue or worker is stuck.
DISPATCH_STUCK_AFTER = dt.timedelta(seconds=15)


def console_incidents(*, now: dt.datetime | None = None) -> QuerySet:
    """Open incidents first, then those ended in the last 24 h; counts annotated (one query)."""
    from alerts.models import Alert

    now = now or timezone.now()
    accepted = [Alert.Role.CPR, Alert.Role.AED]
    return (
        Incident.objects.filter(
            Q(state__in=Incident.OPEN_STATES) | Q(closed_at__gte=now - CONSOLE_ENDED_WITHIN)
        )
        .select_related("municipality")
        .defer("municipality__area")
        .annotate(
            alerted_count=Count("alerts"),
            accepted_count=Count("alerts", filter=Q(alerts__role__in=accepted)),
            responding_count=Count("alerts", filter=Q(alerts__state__in=Alert.RESPONDING_STATES)),
            ended=Case(
                When(state__in=Incident.OPEN_STATES, then=Value(False)),
                default=Value(True),
                output_field=BooleanField(),
            ),
        )
        .order_by("ended", "-created_at")
    )


@functools.cache
def _choice_labels_in(model, field_name: str, language: str | None) -> dict[str, str]:
    return {value: str(label) for value, label in model._meta.get_field(field_name).flatchoices}


def _choice_labels(model, field_name: str) -> dict[str, str]:
    """Choice labels as plain text in the active language, built once per language: Django
    rebuilds the choices dict on every ``get_<field>_display()``, and lazy labels translate again
    on every ``str()`` (together a fifth of the board's time)."""
    return _choice_labels_in(model, field_name, get_language())


def _local_time(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%H:%M:%S") if moment else ""


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _latlon(point: Point | None) -> list[float] | None:
    return [round(point.y, 6), round(point.x, 6)] if point else None


def _board_deliveries(incident_id: int) -> dict[int, list[dict]]:
    """The incident's deliveries by alert id, oldest first, in one query."""
    from alerts.models import AlertDelivery

    channels = _choice_labels(AlertDelivery, "channel")
    kinds = _choice_labels(AlertDelivery, "kind")
    states = _choice_labels(AlertDelivery, "state")
    by_alert: dict[int, list[dict]] = collections.defaultdict(list)
    rows = (
        AlertDelivery.objects.filter(alert__incident_id=incident_id)
        .order_by("created_at", "pk")
        .values_list("alert_id", "channel", "kind", "state", "last_error")
    )
    for alert_id, channel, kind, state, error in rows:
        by_alert[alert_id].append(
            {
                "channel": channel,
                "channel_label": channels.get(channel, channel),
                "kind": kind,
                "kind_label": kinds.get(kind, kind),
                "state": state,
                "state_label": states.get(state, state),
                "error": error if state == AlertDelivery.State.FAILED else "",
            }
        )
    return by_alert


def _board_alert_rows(incident_id: int) -> list[dict]:
    """The incident's alerts as plain rows of the columns the board shows (model instances of
    the alert, volunteer, user and AED cost most of the board's time), nearest first.

    Personal data (name, number, live position) is read only for responders: a merely alerted
    volunteer's never leaves the database.
    """
    from alerts.models import Alert

    def responders_only(expression) -> Case:
        return Case(When(state__in=Alert.RESPONDING_STATES, then=expression), default=None)

    rows = (
        Alert.objects.filter(incident_id=incident_id)
        .order_by("distance_m", "pk")
        .values(
            "id",
            "volunteer_id",
            "state",
            "role",
            "pool",
            "wave",
            "distance_m",
            "updated_at",
            "received_at",
            "answered_at",
            "aed_id",
            aed_name=F("aed__name"),
            first_name=responders_only(F("volunteer__user__first_name")),
            # The number as the stored text (E.164): the model field would parse it.
            phone=responders_only(Cast("volunteer__phone", output_field=CharField())),
            live_location=responders_only(F("volunteer__location")),
            live_location_at=responders_only(F("volunteer__location_updated_at")),
            alert_location=responders_only(F("volunteer_location")),
        )
    )
    # Plain dicts (the board adds keys to them), not the closed TypedDict the stubs derive.
    return cast("list[dict]", list(rows))


def _board_alert(alert: dict, *, labels: dict, max_age: dt.timedelta, now: dt.datetime) -> dict:
    from alerts.models import Alert

    responding = alert["state"] in Alert.RESPONDING_STATES
    row = {
        "id": alert["id"],
        "label": labels["volunteer"] % {"id": alert["volunteer_id"] or "–"},
        "state": alert["state"],
        "state_label": labels["state"].get(alert["state"], alert["state"]),
        "responding": responding,
        "role": alert["role"],
        "role_label": labels["role"].get(alert["role"], alert["role"]) if alert["role"] else "",
        "pool": alert["pool"],
        "pool_label": labels["pool"].get(alert["pool"], alert["pool"]),
        "wave": alert["wave"],
        "distance_m": alert["distance_m"],
        "aed": alert["aed_name"],
        "updated_at": _iso(alert["updated_at"]),
        "updated_local": _local_time(alert["updated_at"]),
        "deliveries": alert["deliveries"],
        "name": "",
        "phone": "",
        "position": None,
        "position_source": "",
    }
    # Minimal personal data: a name and a number only for someone on the way, to call them.
    if responding and alert["volunteer_id"] is not None:
        row["name"] = alert["first_name"]
        row["phone"] = alert["phone"]
        live_at = alert["live_location_at"]
        if alert["live_location"] and live_at and now - live_at <= max_age:
            row["position"], row["position_source"] = _latlon(alert["live_location"]), "live"
        elif alert["alert_location"]:
            row["position"], row["position_source"] = _latlon(alert["alert_location"]), "alert"
    return row


def _board_counts(alerts: list[dict]) -> dict:
    from alerts.models import Alert, AlertDelivery

    def any_delivery(alert: dict, states) -> bool:
        return any(
            d["kind"] == AlertDelivery.Kind.ALERT and d["state"] in states
            for d in alert["deliveries"]
        )

    handed_over = (AlertDelivery.State.SENT, AlertDelivery.State.DELIVERED)
    return {
        "alerted": len(alerts),
        "waiting": sum(a["state"] in Alert.WAITING_STATES for a in alerts),
        "sent": sum(any_delivery(a, handed_over) for a in alerts),
        # Delivered: confirmed by the app or the provider, or evidently read (answered).
        "delivered": sum(
            a["received_at"] is not None
            or a["answered_at"] is not None
            or any_delivery(a, (AlertDelivery.State.DELIVERED,))
            for a in alerts
        ),
        "accepted": sum(bool(a["role"]) for a in alerts),
        "declined": sum(a["state"] == Alert.State.DECLINED for a in alerts),
        "failed": sum(a["state"] == Alert.State.FAILED for a in alerts),
        "on_the_way": sum(
            a["state"] in (Alert.State.ACCEPTED, Alert.State.EN_ROUTE, Alert.State.AED_COLLECTED)
            for a in alerts
        ),
        "on_scene": sum(a["state"] == Alert.State.ON_SCENE for a in alerts),
        "responding": sum(a["state"] in Alert.RESPONDING_STATES for a in alerts),
    }


def _board_warnings(incident: Incident, counts: dict, policy, now: dt.datetime) -> list[str]:
    warnings: list[str] = []
    if not incident.is_open or incident.exclusion_reasons:
        return warnings
    age = now - incident.created_at
    if incident.state == Incident.State.PENDING_DISPATCH and age > DISPATCH_STUCK_AFTER:
        warnings.append(
            gettext("Not dispatched after %(s)d s: check the dispatch worker.")
            % {"s": age.total_seconds()}
        )
    elif age.total_seconds() >= policy.escalate_after_s and (
        counts["responding"] < policy.target_accepted
    ):
        warnings.append(
            gettext("Only %(n)d of %(target)d volunteers have accepted after %(s)d s.")
            % {
                "n": counts["responding"],
                "target": policy.target_accepted,
                "s": age.total_seconds(),
            }
        )
    return warnings


def _board_aeds(incident: Incident, *, claimed: set[int], now: dt.datetime) -> list[dict]:
    """The nearest AEDs around the incident, whether they can be fetched now, and which are
    already claimed by a responder."""
    from defibrillators.availability import opening_hours_is_open
    from defibrillators.models import Defibrillator

    aeds = (
        Defibrillator.objects.filter(location__dwithin=(incident.location, BOARD_AED_RADIUS_M))
        .annotate(distance=Distance("location", incident.location))
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
        )[:100]
    )
    return [
        {
            "id": aed["id"],
            "name": aed["name"],
            "address": aed["address"],
            "placement": aed["placement"],
            "opening_hours": aed["opening_hours"],
            "location": _latlon(aed["location"]),
            "distance_m": round(aed["distance"].m),
            "availability": (
                "inactive"
                if aed["status"] != Defibrillator.Status.ACTIVE
                else ("available" if opening_hours_is_open(aed["opening_hours"], now) else "closed")
            ),
            "claimed": aed["id"] in claimed,
            "synthetic": aed["synthetic"],
        }
        for aed in aeds
    ]


def _board_events(incident_id: int) -> list[dict]:
    events = (
        IncidentEvent.objects.filter(incident_id=incident_id)
        .order_by("-created_at", "-pk")
        .values(
            "created_at",
            "kind",
            "message",
            "actor_id",
            "actor__first_name",
            "actor__last_name",
            "actor__username",
        )
    )
    return [
        {
            "time": _iso(e["created_at"]),
            "time_local": _local_time(e["created_at"]),
            "kind": e["kind"],
            "message": e["message"],
            # As User.get_full_name() or get_username().
            "actor": (
                f"{e['actor__first_name']} {e['actor__last_name']}".strip() or e["actor__username"]
                if e["actor_id"]
                else ""
            ),
        }
        for e in events
    ]


def incident_board(*, incident_id: int, now: dt.datetime | None = None) -> dict:
    """Everything the live incident page shows, as JSON-ready data, in a constant six queries
    that read plain rows (the console polls it every two seconds per open incident).

    Raises Incident.DoesNotExist for an unknown id.
    """
    from alerts.models import Alert
    from alerts.selectors import dispatch_policy_current

    now = now or timezone.now()
    incident = (
        Incident.objects.select_related("municipality")
        .defer("municipality__area")
        .get(pk=incident_id)
    )
    policy = dispatch_policy_current()
    alerts = _board_alert_rows(incident_id)
    deliveries = _board_deliveries(incident_id)
    for alert in alerts:
        alert["deliveries"] = deliveries.get(alert["id"], [])
    counts = _board_counts(alerts)
    # Responders first, then those not yet answered, then the rest; nearest first within each.
    rank = dict.fromkeys(Alert.RESPONDING_STATES, 0) | dict.fromkeys(Alert.WAITING_STATES, 1)
    alerts.sort(
        key=lambda a: (rank.get(a["state"], 2), a["distance_m"] is None, a["distance_m"] or 0)
    )
    labels = {
        "volunteer": gettext("Volunteer #%(id)s"),
        "state": _choice_labels(Alert, "state"),
        "role": _choice_labels(Alert, "role"),
        "pool": _choice_labels(Alert, "pool"),
    }
    max_age = dt.timedelta(seconds=policy.location_max_age_s)
    return {
        "generated_at": _iso(now),
        "incident": {
            "id": incident.pk,
            "state": incident.state,
            "state_label": _choice_labels(Incident, "state").get(incident.state, incident.state),
            "is_open": incident.is_open,
            "address": incident.address,
            "municipality": incident.municipality.name,
            "note": incident.note,
            "location": _latlon(incident.location),
            "wave": incident.dispatch_wave,
            "radius_m": incident.dispatch_radius_m,
            "created_at": _iso(incident.created_at),
            "created_local": _local_time(incident.created_at),
            "age_s": int((now - incident.created_at).total_seconds()),
            "closed_at": _iso(incident.closed_at),
            "closed_local": _local_time(incident.closed_at),
            "exclusion_reasons": [
                str(Incident.Exclusion(r).label)
                for r in incident.exclusion_reasons
                if r in Incident.Exclusion.values
            ],
        },
        "policy": {
            "target_accepted": policy.target_accepted,
            "escalate_after_s": policy.escalate_after_s,
            "max_waves": policy.max_waves,
        },
        "counts": counts,
        "warnings": _board_warnings(incident, counts, policy, now),
        "alerts": [_board_alert(a, labels=labels, max_age=max_age, now=now) for a in alerts],
        "aeds": _board_aeds(
            incident, claimed={a["aed_id"] for a in alerts if a["aed_id"]}, now=now
        ),
        "events": _board_events(incident_id),
    }


def service_region_municipality_codes() -> list[str]:
    """The municipalities the service region covers, to shade the region on the console map."""
    return list(
        Municipality.objects.filter(region_id=settings.SERVICE_REGION_CODE)
        .order_by("code")
        .values_list("code", flat=True)
    )
