"""Project-wide pages: the data attributions ("about") and the health check."""

import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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


def _check_redis() -> bool:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2, retry_on_timeout=False
    )
    try:
        return bool(client.ping())
    except Exception:
        logger.exception("health check: Redis unreachable")
        return False
    finally:
        client.close()


@never_cache
@require_GET
def healthz(request):
    """200 when the database and Redis answer, 503 otherwise; for load balancers and compose."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    healthy = all(checks.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            **{k: "ok" if v else "error" for k, v in checks.items()},
        },
        status=200 if healthy else 503,
    )
