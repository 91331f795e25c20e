"""The geography of Denmark the input checks use: its bounding box and land outline, read once
per process from a static file (no query), and the metres in a degree of latitude."""

import functools
import json

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Point
from django.contrib.gis.geos.prepared import PreparedGeometry

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
