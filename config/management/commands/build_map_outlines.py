"""Build the simplified municipality outlines that the admin maps draw when no tiles load.

The DAGI file has one polygon per island; PostGIS groups them by municipality code, drops the
z = -999 coordinate, simplifies with ST_SimplifyPreserveTopology and rounds the coordinates, so
the result stays small enough to ship as a static file. Nothing is written to any table.

    python manage.py build_map_outlines  # writes config/static/geo/kommuner.geojson
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "static" / "geo" / "kommuner.geojson"

ATTRIBUTION = (
    "Indeholder data fra Styrelsen for Dataforsyning og Infrastruktur (tidl. Geodatastyrelsen), "
    "DAGI 1:500.000, februar 2014"
)

SQL = """
WITH parts AS (
    SELECT f->'properties'->>'KOMKODE' AS code,
           f->'properties'->>'KOMNAVN' AS name,
           ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(f->>'geometry'), 4326)) AS geom
    FROM jsonb_array_elements(%(features)s::jsonb) AS f
),
units AS (
    SELECT code, min(name) AS name, ST_Union(ST_MakeValid(geom)) AS geom
    FROM parts GROUP BY code
),
simple AS (
    SELECT code, name,
           ST_Multi(ST_CollectionExtract(
               ST_MakeValid(ST_SimplifyPreserveTopology(geom, %(tolerance)s)), 3)) AS geom,
           ST_PointOnSurface(geom) AS label
    FROM units
)
SELECT code, name, ST_AsGeoJSON(geom, %(digits)s), ST_X(label), ST_Y(label)
FROM simple
WHERE NOT ST_IsEmpty(geom) AND ST_Area(geom) >= %(min_area)s
ORDER BY code
"""


class Command(BaseCommand):
    help = "Write simplified municipality outlines (GeoJSON) for the offline admin maps."

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            default=str(settings.REFERENCE_DATA_DIR / "kommuner.geojson"),
            help="DAGI municipality polygons (default: REFERENCE_DATA_DIR/kommuner.geojson).",
        )
        parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
        parser.add_argument(
            "--tolerance",
            type=float,
            default=0.002,
            help="Simplification tolerance in degrees (0.002 is about 120-220 m).",
        )
        parser.add_argument("--digits", type=int, default=4, help="Decimals kept (4 = ~10 m).")
        parser.add_argument(
            "--min-area",
            type=float,
            default=0.0,
            help="Drop municipalities whose simplified area (square degrees) is smaller.",
        )

    def handle(self, *args, **options):
        source = Path(options["source"])
        if not source.is_file():
            raise CommandError(f"No such file: {source}")
        features = json.loads(source.read_text(encoding="utf-8"))["features"]
        self.stdout.write(f"Read {len(features)} polygons from {source.name}; simplifying…")
        with connection.cursor() as cursor:
            cursor.execute(
                SQL,
                {
                    "features": json.dumps(features),
                    "tolerance": options["tolerance"],
                    "digits": options["digits"],
                    "min_area": options["min_area"],
                },
            )
            rows = cursor.fetchall()
        collection = {
            "type": "FeatureCollection",
            "attribution": ATTRIBUTION,
            "features": [
                {
                    "type": "Feature",
                    "properties": {
                        "code": code,
                        "name": name,
                        "label": [round(x, 4), round(y, 4)],
                    },
                    "geometry": json.loads(geometry),
                }
                for code, name, geometry, x, y in rows
            ],
        }
        output = Path(options["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(
            json.dumps(collection, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
        size_kb = output.stat().st_size / 1024
        self.stdout.write(
            self.style.SUCCESS(f"Wrote {len(rows)} municipalities to {output} ({size_kb:.0f} KB)")
        )
