"""Project-wide pages: the data attributions ("about") and the health check."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.heartbeat import heartbeat_ages

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataSource:
    name: str
    used_for: str
    origin: str
    licence: str
    attribution: str  # shown verbatim, as the licence requires; never translated
    url: str = ""


DATA_SOURCES = [
    DataSource(
        name="DAGI 1:500.000 (Danmarks Administrative Geografiske Inddeling)",
        used_for=_(
            "Region, municipality and postcode boundaries; the municipality outlines on maps"
        ),
        origin=_(
            "Styrelsen for Dataforsyning og Infrastruktur (formerly Geodatastyrelsen), FOT data "
            "set of 13 February 2014, via the GitHub repository Neogeografen/dagi"
        ),
        licence=_("Free geographic data terms; CC BY 4.0 since 16 May 2024"),
        attribution=(
            "Indeholder data fra Styrelsen for Dataforsyning og Infrastruktur "
            "(tidl. Geodatastyrelsen), DAGI 1:500.000, februar 2014"
        ),
        url="https://sdfi.dk/",
    ),
    DataSource(
        name="quattroshapes gazetteer (DK)",
        used_for=_("Town and village names for offline place search; anchor points for demo data"),
        origin=_(
            "foursquare quattroshapes, derived from GeoNames and other sources, via the GitHub "
            "repository weeyum/quattroshapes-gazetteer-geojson"
        ),
        licence="CC BY (quattroshapes), CC BY 4.0 (GeoNames)",
        attribution="Includes data from foursquare quattroshapes",
        url="https://www.geonames.org/",
    ),
    DataSource(
        name="Danmarks Statistik, BY3",
        used_for=_("Population per municipality (1 January 2020), to weight demo volunteers"),
        origin=_("Statistics Denmark, table BY3"),
        licence=_("Free reuse, commercial use included, with attribution"),
        attribution="Kilde: Danmarks Statistik – statistikbanken.dk/BY3",
        url="https://www.statistikbanken.dk/BY3",
    ),
    DataSource(
        name=_("The 32 local areas of the 1-1-2 førstehjælper corps"),
        used_for=_("Local areas and their village points"),
        origin=_(
            "Names from Århus Stiftstidende (30 April 2018) and ph.rm.dk; coordinates looked up "
            "in the quattroshapes gazetteer and DAGI; four are approximate"
        ),
        licence=_("The names are facts; the coordinates follow the quattroshapes and DAGI terms"),
        attribution=(
            "Includes data from foursquare quattroshapes; Indeholder data fra Styrelsen for "
            "Dataforsyning og Infrastruktur (tidl. Geodatastyrelsen), DAGI 1:500.000, februar 2014"
        ),
    ),
]


def about(request):
    return render(
        request,
        "about.html",
        {"sources": DATA_SOURCES, "map_tiles": settings.LEAFLET_CONFIG.get("TILES", [])},
    )


def _check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("health check: database unreachable")
        return False


def _heartbeat_ages() -> dict[str, float | None] | None:
    try:
        return heartbeat_ages()
    except Exception:
        logger.exception("health check: Redis unreachable")
        return None


def _part(age: float | None) -> dict:
    if age is None:
        return {"status": "missing"}
    return {"status": "ok" if age <= settings.HEALTH_STALE_S else "stale", "age_s": round(age, 1)}


@never_cache
@require_GET
def healthz(request):
    """200 when the database and Redis answer and the Celery worker and beat have written a
    heartbeat lately (config.heartbeat); 503 otherwise, naming the part that is not ok. For
    load balancers, compose and the operators; says nothing else about the platform."""
    ages = _heartbeat_ages()
    parts: dict[str, dict] = {
        "database": {"status": "ok" if _check_database() else "error"},
        "redis": {"status": "ok" if ages is not None else "error"},
    }
    for process in ("worker", "beat"):
        parts[process] = _part(ages[process]) if ages is not None else {"status": "unknown"}
    healthy = all(part["status"] == "ok" for part in parts.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **parts},
        status=200 if healthy else 503,
    )
