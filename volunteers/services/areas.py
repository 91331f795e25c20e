"""The local areas of the 1-1-2 førstehjælper corps: loaded from the corps' CSV, each the land
connected to its village point within a circle around it."""

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import cast

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point
from django.db import connection, transaction

from amk.models.territory import Municipality
from config.exceptions import ApplicationError
from config.geography import within_denmark
from config.imports import ImportSummary
from volunteers.models import LocalArea

LOCAL_AREA_COLUMNS = ("omraade", "kommunekode", "lon", "lat", "koordinat_kilde", "bemaerkning")
DEFAULT_AREA_RADIUS_M = 6000

# ST_Buffer on geography gives a true circle in metres; clipping to the municipalities keeps the
# area on land. Only the municipalities the circle touches are unioned, so this stays fast. Of
# the land in the circle only the piece the village stands on is kept (or, where the generalised
# coastline leaves the village point just off it, the nearest piece): the corps reaches the land
# connected to its village, never an island or a peninsula across the water.
_LAND_BUFFER_SQL = f"""
    WITH village AS (
        SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS geom
    ), circle AS (
        SELECT ST_Buffer(village.geom::geography, %(radius_m)s)::geometry AS geom FROM village
    ), land AS (
        SELECT ST_CollectionExtract(ST_Union(ST_Intersection(m.area, circle.geom)), 3) AS geom
        FROM circle JOIN {Municipality._meta.db_table} m ON ST_Intersects(m.area, circle.geom)
    )
    SELECT ST_Multi(part.geom), ST_Distance(part.geom::geography, village.geom::geography)
    FROM land CROSS JOIN village CROSS JOIN LATERAL ST_Dump(land.geom) AS part
    ORDER BY ST_Distance(part.geom::geography, village.geom::geography), ST_Area(part.geom) DESC
    LIMIT 1
"""  # noqa: S608  identifiers are constants; values are parameters

# How far off the generalised (1:500,000) coastline a village point may lie and still get the
# nearest piece of land; farther out it is refused as "not on land".
MAX_OFFSHORE_M = 500


def _land_area(point: Point, radius_m: int) -> MultiPolygon | None:
    """The piece of land within radius_m that the village stands on, or None if it is at sea."""
    with connection.cursor() as cursor:
        cursor.execute(_LAND_BUFFER_SQL, {"lon": point.x, "lat": point.y, "radius_m": radius_m})
        row = cursor.fetchone()
    if row is None or row[1] > MAX_OFFSHORE_M:
        return None
    return cast(MultiPolygon, GEOSGeometry(row[0]))  # ST_Multi: a MultiPolygon


def _read_csv(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise ApplicationError(f"File not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(required) - set(reader.fieldnames or ())
        if missing:
            raise ApplicationError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return list(reader)


def _local_area_fields(
    row: dict[str, str], municipalities: dict[str, Municipality]
) -> tuple[str, dict]:
    """The model fields of one CSV row; ValueError names the bad field."""
    name = (row["omraade"] or "").strip()
    name_max = LocalArea._meta.get_field("name").max_length
    if not name or (name_max and len(name) > name_max):
        raise ValueError("omraade: empty or too long")
    municipality = municipalities.get((row["kommunekode"] or "").strip().zfill(4))
    if municipality is None:
        raise ValueError(f"kommunekode: unknown municipality {row['kommunekode']!r}")
    try:
        lon, lat = float(row["lon"]), float(row["lat"])
    except (TypeError, ValueError):
        raise ValueError(f"lon/lat: not numbers ({row['lon']!r}, {row['lat']!r})") from None
    if not within_denmark(lon=lon, lat=lat):
        raise ValueError(f"lon/lat: {lon}, {lat} is outside Denmark")
    note = (row.get("bemaerkning") or "").strip()
    note_max = LocalArea._meta.get_field("note").max_length
    if note_max and len(note) > note_max:
        raise ValueError("bemaerkning: too long")
    return name, {
        "municipality": municipality,
        "village_point": Point(lon, lat, srid=4326),
        "location_is_approximate": (row["koordinat_kilde"] or "").startswith("omtrentlig"),
        "note": note,
    }


@transaction.atomic
def local_areas_load(
    *, path: Path, radius_m: int = DEFAULT_AREA_RADIUS_M, reset_areas: bool = False
) -> ImportSummary:
    """The corps' areas, each the piece of land its village stands on within a circle around it.

    An existing polygon is kept on re-runs, because an administrator may have drawn the real
    boundary; ``reset_areas`` derives it again.
    """
    if radius_m <= 0:
        raise ApplicationError("The radius must be positive.", field="radius_m")
    municipalities = {m.code: m for m in Municipality.objects.defer("area")}
    if not municipalities:
        raise ApplicationError("No municipalities loaded: run load_geography first.")
    rows = _read_csv(path, LOCAL_AREA_COLUMNS)
    summary = ImportSummary()
    existing = {area.name: area for area in LocalArea.objects.all()}
    for number, row in enumerate(rows, start=2):
        try:
            name, fields = _local_area_fields(row, municipalities)
        except ValueError as exc:
            summary.skip(f"row {number}", str(exc))
            continue
        area = existing.get(name)
        if area is None or reset_areas:
            fields["area"] = _land_area(fields["village_point"], radius_m)
            if fields["area"] is None:
                summary.skip(f"row {number} ({name})", "village point is not on land")
                continue
        if area is None:
            existing[name] = LocalArea.objects.create(name=name, **fields)
            summary.created += 1
            continue
        changed = [field for field, value in fields.items() if getattr(area, field) != value]
        if changed:
            for field in changed:
                setattr(area, field, fields[field])
            area.save(update_fields=[*changed, "updated_at"])
            summary.updated += 1
        else:
            summary.unchanged += 1
    return summary
