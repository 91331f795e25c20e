"""Writes for the territory: the DAGI reference geography and the gazetteer."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction

from amk.models.territory import Municipality, Place, Postcode, Region
from config.imports import ImportSummary, Progress, read_geojson_features

PLACE_COAST_TOLERANCE_M = 1000


def _silent(message: str) -> None:
    return None


@dataclass(frozen=True)
class _DagiLayer:
    label: str
    model: type[Region] | type[Municipality] | type[Postcode]
    filename: str
    code_property: str
    name_property: str


# Regions first: the municipality upsert looks up its region among them.
_DAGI_LAYERS = (
    _DagiLayer("regions", Region, "regioner.geojson", "REGIONKODE", "REGIONNAVN"),
    _DagiLayer("municipalities", Municipality, "kommuner.geojson", "KOMKODE", "KOMNAVN"),
    _DagiLayer("postcodes", Postcode, "postnumre.geojson", "POSTNR_TXT", "POSTBYNAVN"),
)

# DAGI has one Polygon per island, in 3D: union the parts per code into one 2D MultiPolygon.
_DAGI_UNION_SQL = """
    SELECT code, min(name) AS name,
           ST_Multi(ST_Union(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)))) AS area
    FROM unnest(%s::text[], %s::text[], %s::text[]) AS part(code, name, geojson)
    GROUP BY code
"""

# The municipality layer has no region: take the region holding a point on its surface.
_REGION_OF_AREA_SQL = f"""
    (SELECT r.code FROM {Region._meta.db_table} r
     WHERE ST_Intersects(r.area, ST_PointOnSurface(src.area)) LIMIT 1)
"""  # noqa: S608  identifiers are constants; values are parameters


def _count_upsert(summary: ImportSummary, inserted_flags: list[tuple[bool]], total: int) -> None:
    created = sum(1 for (inserted,) in inserted_flags if inserted)
    summary.created += created
    summary.updated += len(inserted_flags) - created
    summary.unchanged += total - len(inserted_flags)


def _dagi_layer_load(layer: _DagiLayer, data_dir: Path) -> ImportSummary:
    """One layer, upserted by code.

    Central Copenhagen's street postcodes come as ranges ("1000-1499"): they are stored under
    the range's first number, which is also the one people type.
    """
    summary = ImportSummary()
    codes, names, geometries = [], [], []
    meta = layer.model._meta
    code_max, name_max = meta.pk.max_length, meta.get_field("name").max_length
    for number, feature in enumerate(read_geojson_features(data_dir / layer.filename), start=1):
        properties = feature.get("properties") or {}
        code = str(properties.get(layer.code_property) or "").split("-", 1)[0].strip()
        name = str(properties.get(layer.name_property) or "").strip()
        geometry = feature.get("geometry")
        if not code or not name:
            summary.skip(f"feature {number}", f"{layer.code_property}/{layer.name_property} empty")
        elif (code_max and len(code) > code_max) or (name_max and len(name) > name_max):
            summary.skip(f"feature {number} ({code})", "code or name too long")
        elif not geometry or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
            summary.skip(f"feature {number} ({code})", "geometry is not a polygon")
        else:
            codes.append(code)
            names.append(name)
            geometries.append(json.dumps(geometry))
    table, key = meta.db_table, meta.pk.column
    columns = ["name", "area"] + (["region_id"] if layer.model is Municipality else [])
    select = ", ".join(columns[:2] + ([_REGION_OF_AREA_SQL] if "region_id" in columns else []))
    target = ", ".join(columns)
    excluded = ", ".join(f"EXCLUDED.{c}" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH src AS ({_DAGI_UNION_SQL})
            INSERT INTO {table} ({key}, {target})
            SELECT code, {select} FROM src
            ON CONFLICT ({key}) DO UPDATE SET ({target}) = ROW({excluded})
            WHERE ({", ".join(f"{table}.{c}" for c in columns)}) IS DISTINCT FROM ({excluded})
            RETURNING xmax = 0
            """,  # noqa: S608  identifiers are constants; values are parameters
            [codes, names, geometries],
        )
        _count_upsert(summary, cursor.fetchall(), total=len(set(codes)))
    return summary


def _place_rows(features: Iterable[dict], summary: ImportSummary) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    seen = set()
    max_length = Place._meta.get_field("name").max_length
    for number, feature in enumerate(features, start=1):
        name = ((feature.get("properties") or {}).get("name") or "").strip()
        geometry = feature.get("geometry") or {}
        lon: float | None
        lat: float | None
        try:
            lon, lat = (float(c) for c in geometry["coordinates"][:2])
        except (KeyError, TypeError, ValueError):
            lon = lat = None
        row = (name, lon, lat)
        if not name:
            summary.skip(f"feature {number}", "name is empty")
        elif geometry.get("type") != "Point" or lon is None or lat is None:
            summary.skip(f"feature {number} ({name})", "geometry is not a point")
        elif max_length is not None and len(name) > max_length:
            summary.skip(f"feature {number} ({name[:30]}…)", f"name longer than {max_length}")
        elif row in seen:
            summary.skip(f"feature {number} ({name})", "duplicate of an earlier feature")
        else:
            seen.add(row)
            rows.append((name, lon, lat))
    return rows


def places_load(*, path: Path) -> ImportSummary:
    """Gazetteer places, with the municipality found by point-in-polygon (name_adm2 is unreliable).

    Harbour and coast points just off the generalised 1:500,000 coastline get the nearest
    municipality within PLACE_COAST_TOLERANCE_M; points farther out keep none.
    """
    summary = ImportSummary()
    rows = _place_rows(read_geojson_features(path), summary)
    table, municipalities = Place._meta.db_table, Municipality._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH src AS (
                SELECT name, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS point
                FROM unnest(%s::text[], %s::float8[], %s::float8[]) AS row(name, lon, lat)
            )
            INSERT INTO {table} (name, point, municipality_id)
            SELECT src.name, src.point::geography, COALESCE(
                (SELECT m.code FROM {municipalities} m
                 WHERE ST_Intersects(m.area, src.point) LIMIT 1),
                (SELECT nearest.code FROM (
                    SELECT m.code, m.area FROM {municipalities} m
                    ORDER BY m.area <-> src.point LIMIT 1) AS nearest
                 WHERE ST_DWithin(nearest.area::geography, src.point::geography, %s)))
            FROM src
            ON CONFLICT (name, point) DO UPDATE SET municipality_id = EXCLUDED.municipality_id
            WHERE {table}.municipality_id IS DISTINCT FROM EXCLUDED.municipality_id
            RETURNING xmax = 0
            """,  # noqa: S608  identifiers are constants; values are parameters
            [
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
                PLACE_COAST_TOLERANCE_M,
            ],
        )
        _count_upsert(summary, cursor.fetchall(), total=len(rows))
    return summary


@transaction.atomic
def geography_load(*, data_dir: Path, progress: Progress = _silent) -> dict[str, ImportSummary]:
    """Regions, municipalities, postcodes and gazetteer places, upserted by their keys."""
    summaries = {}
    for layer in _DAGI_LAYERS:
        progress(f"Loading {layer.label} from {layer.filename} …")
        summaries[layer.label] = _dagi_layer_load(layer, data_dir)
    progress("Loading places from DK.geojson …")
    summaries["places"] = places_load(path=data_dir / "DK.geojson")
    return summaries
