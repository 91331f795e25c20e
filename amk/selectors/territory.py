"""Reads for the territory: the municipality of a point, where an incident may be created, the
dispatcher's place search, and the real places of the service region that synthetic people and
AEDs are put near."""

import bisect
import csv
import itertools
import math
import random
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Length
from django.utils.translation import gettext as _

from amk.models.territory import Municipality, Place, Postcode, Region
from config.exceptions import ApplicationError
from config.geography import METRES_PER_DEGREE_LAT


def municipality_containing(
    *, point: Point, service_region_only: bool = True
) -> Municipality | None:
    """The municipality a point lies in; by default only those the service region covers."""
    municipalities = Municipality.objects.filter(area__intersects=point).defer("area")
    if service_region_only:
        municipalities = municipalities.filter(region_id=settings.SERVICE_REGION_CODE)
    return municipalities.first()


@dataclass(frozen=True)
class LocationCheck:
    """Where an incident at a point belongs: a municipality of the service region, or why not."""

    municipality: Municipality | None
    other_region: Region | None = None  # the region whose land (or nearest shore) it is
    shore_distance_m: float = 0.0  # how far outside the generalised outline it lies

    @property
    def refusal(self) -> str:
        """The dispatcher's reason, naming the region and AMK the incident belongs to."""
        if self.other_region is not None:
            return _(
                "The location is in %(region)s: the incident belongs to the dispatch centre "
                "(AMK) of %(region)s."
            ) % {"region": self.other_region.name}
        return _("The location is outside %(region)s: more than %(metres)s m from its coast.") % {
            "region": _service_region_name(),
            "metres": settings.SERVICE_REGION_SHORE_TOLERANCE_M,
        }

    def municipality_or_raise(self) -> Municipality:
        if self.municipality is None:
            raise ApplicationError(self.refusal, field="location", code="outside_region")
        return self.municipality


def _service_region_name() -> str:
    region = Region.objects.filter(code=settings.SERVICE_REGION_CODE).only("name").first()
    return region.name if region else settings.SERVICE_REGION_CODE


_NEAREST_SHORE_SQL = """
    SELECT m.code, ST_Distance(m.area::geography, p.point::geography)
    FROM amk_municipality m, (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS point) p
    WHERE m.area && ST_Expand(p.point, %(dlon)s, %(dlat)s)
      AND ST_DWithin(m.area::geography, p.point::geography, %(metres)s)
    ORDER BY 2
    LIMIT 1
"""


def incident_location_check(*, point: Point) -> LocationCheck:
    """Accept the service region's land and its shore, never another region's land.

    The DAGI 1:500,000 outlines are generalised: quays, beaches and islets lie up to a few hundred
    metres outside them. A point on no region's land is given to the municipality with the nearest
    shore within SERVICE_REGION_SHORE_TOLERANCE_M (in metres on the spheroid, not in degrees).
    """
    municipality = municipality_containing(point=point)
    if municipality is not None:
        return LocationCheck(municipality)
    other = Region.objects.filter(area__intersects=point).defer("area").first()
    if other is not None:
        return LocationCheck(None, other_region=other)
    metres = settings.SERVICE_REGION_SHORE_TOLERANCE_M
    dlat = metres / METRES_PER_DEGREE_LAT
    with connection.cursor() as cursor:
        cursor.execute(
            _NEAREST_SHORE_SQL,
            {
                "lon": point.x,
                "lat": point.y,
                "dlat": dlat,
                "dlon": dlat / max(math.cos(math.radians(point.y)), 0.1),
                "metres": metres,
            },
        )
        nearest = cursor.fetchone()
    if nearest is None:
        return LocationCheck(None)
    shore = (
        Municipality.objects.select_related("region")
        .defer("area", "region__area")
        .get(code=nearest[0])
    )
    if shore.region_id != settings.SERVICE_REGION_CODE:
        return LocationCheck(None, other_region=shore.region, shore_distance_m=nearest[1])
    return LocationCheck(shore, shore_distance_m=nearest[1])


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


def service_region_municipality_codes() -> list[str]:
    """The municipalities the service region covers, to shade the region on the console map."""
    return list(
        Municipality.objects.filter(region_id=settings.SERVICE_REGION_CODE)
        .order_by("code")
        .values_list("code", flat=True)
    )
