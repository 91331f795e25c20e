"""Address search through a service speaking the DAWA REST interface (ADDRESS_SEARCH_BACKEND
"dawa"), for sites that keep no copy of the register.

DAWA itself closed in August 2026; DAWA-compatible services answer the same requests. Used:
``GET {DAWA_COMPATIBLE_BASE_URL}/autocomplete?q=…&type=adgangsadresse&startfra=adgangsadresse
&fuzzy=&per_side=N``, whose answer is a JSON list of ``{"type", "tekst", "forslagstekst",
"caretpos", "data": {"id", "vejnavn", "husnr", "supplerendebynavn", "postnr", "postnrnavn",
"kommunekode", "x", "y", …}}`` (x/y: WGS84 longitude/latitude). A slow or failing service
raises DawaUnavailable after ADDRESS_SEARCH_TIMEOUT_S; the caller falls back to the local
register, so a dispatcher is never left waiting.
"""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings

from amk.models.addresses import address_label


class DawaUnavailable(Exception):
    """The DAWA-compatible service did not answer usably in time."""


@dataclass(frozen=True)
class DawaAddress:
    label: str
    lon: float
    lat: float
    municipality_code: str


def _address(item: object) -> DawaAddress | None:
    """One autocomplete suggestion, or None when it is no access address with a point."""
    if not isinstance(item, dict) or item.get("type", "adgangsadresse") != "adgangsadresse":
        return None
    data = item.get("data")
    if not isinstance(data, dict):
        return None
    try:
        lon, lat = float(data["x"]), float(data["y"])
    except (KeyError, TypeError, ValueError):
        return None
    street, number = str(data.get("vejnavn") or ""), str(data.get("husnr") or "")
    postcode, name = str(data.get("postnr") or ""), str(data.get("postnrnavn") or "")
    if not (street and number and postcode):
        return None
    label = address_label(street, number, str(data.get("supplerendebynavn") or ""), postcode, name)
    return DawaAddress(label, lon, lat, str(data.get("kommunekode") or ""))


def dawa_autocomplete(*, query: str, limit: int = 10) -> list[DawaAddress]:
    """Access addresses for typed text from the configured DAWA-compatible service."""
    params = {
        "q": query,
        "type": "adgangsadresse",
        "startfra": "adgangsadresse",
        "fuzzy": "",
        "per_side": str(limit),
    }
    url = f"{settings.DAWA_COMPATIBLE_BASE_URL}/autocomplete?{urlencode(params)}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310  http(s) only (settings_addresses)
    try:
        with urllib.request.urlopen(request, timeout=settings.ADDRESS_SEARCH_TIMEOUT_S) as response:  # noqa: S310  as above
            body = response.read(2_000_000)
        items = json.loads(body.decode("utf-8"))
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, bad JSON
        raise DawaUnavailable(str(exc)) from exc
    if not isinstance(items, list):
        raise DawaUnavailable("the answer is not a JSON list")
    addresses = [address for address in map(_address, items) if address is not None]
    return addresses[:limit]
