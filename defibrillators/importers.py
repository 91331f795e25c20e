"""Parsers for the AED formats we can import: OpenStreetMap (Overpass JSON, GeoJSON) and CSV.

Each parser yields one ``RawAed`` per input row, already mapped to model field names but not
yet validated; ``aed_fields`` validates one row and names the field when it refuses it.
"""

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
from django.contrib.gis.geos import GEOSException, GEOSGeometry, Point

from config.exceptions import ApplicationError
from config.geography import within_denmark
from defibrillators.availability import opening_hours_is_valid
from defibrillators.models import Defibrillator

FORMATS = ("osm-json", "geojson", "csv")
CSV_COLUMNS = (
    "source_id", "name", "lat", "lon", "address", "placement", "indoor", "floor", "access",
    "opening_hours", "cabinet_code", "status", "owner_name", "owner_phone",
    "battery_expires_on", "pads_expire_on", "contact_name", "contact_phone",
)  # fmt: skip
CSV_REQUIRED = ("source_id", "name", "lat", "lon")
DEFAULT_NAME = "Hjertestarter"
OSM_ID = re.compile(r"^(node|way|relation)/\d+$")

# OSM access values (and our own) to the model's three levels; anything else is refused. Public:
# anyone may use it (yes, permissive, designated); restricted: customers or visitors, so only
# while the place is open; private: the owner's own (private, no).
ACCESS = {
    "": Defibrillator.Access.PUBLIC,
    "yes": Defibrillator.Access.PUBLIC,
    "public": Defibrillator.Access.PUBLIC,
    "permissive": Defibrillator.Access.PUBLIC,
    "designated": Defibrillator.Access.PUBLIC,
    "customers": Defibrillator.Access.RESTRICTED,
    "restricted": Defibrillator.Access.RESTRICTED,
    "private": Defibrillator.Access.PRIVATE,
    "no": Defibrillator.Access.PRIVATE,
}
YES, NO = {"yes", "true", "1", "ja"}, {"no", "false", "0", "nej"}
STATUS = {"": Defibrillator.Status.ACTIVE, **{s.value: s for s in Defibrillator.Status}}


@dataclass
class RawAed:
    """One input row: where it came from, its coordinates and its values as text."""

    label: str
    source: str
    source_id: str
    lon: object
    lat: object
    values: dict[str, str]
    tags: dict = field(default_factory=dict)
    error: str = ""


def detect_format(path: Path) -> str:
    """From the extension, and for .json from the content (Overpass has "elements")."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".geojson":
        return "geojson"
    head = path.read_text(encoding="utf-8-sig", errors="replace")[:4096].lstrip()
    if not head.startswith(("{", "[")):
        return "csv"
    return "osm-json" if '"elements"' in head else "geojson"


def _osm_address(tags: dict) -> str:
    street = " ".join(filter(None, (tags.get("addr:street"), tags.get("addr:housenumber"))))
    town = " ".join(filter(None, (tags.get("addr:postcode"), tags.get("addr:city"))))
    return ", ".join(filter(None, (street, town)))


def _osm_values(tags: dict) -> dict[str, str]:
    """OSM tags to model fields; fields OSM does not know (cabinet code…) are left untouched."""
    return {
        "name": tags.get("name") or tags.get("operator") or DEFAULT_NAME,
        "address": _osm_address(tags),
        "placement": tags.get("defibrillator:location:da")
        or tags.get("defibrillator:location", ""),
        "indoor": tags.get("indoor", ""),
        "floor": tags.get("level", ""),
        "access": tags.get("access", ""),
        "opening_hours": tags.get("opening_hours", ""),
        "owner_name": tags.get("operator", ""),
        "owner_phone": tags.get("phone")
        or tags.get("operator:phone")
        or tags.get("contact:phone", ""),
    }


def _osm_row(label: str, source_id: str, lon, lat, tags: dict) -> RawAed:
    row = RawAed(label, Defibrillator.Source.OSM, source_id, lon, lat, _osm_values(tags), tags)
    if tags.get("emergency") != "defibrillator":
        row.error = "emergency: not tagged emergency=defibrillator"
    return row


def _load_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as exc:
        raise ApplicationError(f"{path}: not valid JSON ({exc})") from exc


def read_overpass(path: Path) -> Iterator[RawAed]:
    document = _load_json(path)
    elements = document.get("elements") if isinstance(document, dict) else None
    if not isinstance(elements, list):
        raise ApplicationError(f'{path}: no "elements" list, not Overpass JSON')
    for number, element in enumerate(elements, start=1):
        source_id = f"{element.get('type')}/{element.get('id')}"
        position = element if "lat" in element else element.get("center") or {}
        row = _osm_row(
            source_id if OSM_ID.match(source_id) else f"element {number}",
            source_id,
            position.get("lon"),
            position.get("lat"),
            element.get("tags") or {},
        )
        if not OSM_ID.match(source_id):
            row.error = f"type/id: {source_id!r} is not an OSM id"
        yield row


def _feature_point(geometry: dict | None) -> tuple[object, object]:
    """A Point's coordinates; a way exported as a polygon gives its centroid."""
    if not geometry:
        return None, None
    if geometry.get("type") == "Point":
        coordinates = (geometry.get("coordinates") or []) + [None, None]
        return coordinates[0], coordinates[1]
    try:
        centroid = GEOSGeometry(json.dumps(geometry)).centroid
    except (GEOSException, ValueError, TypeError):
        return None, None
    return centroid.x, centroid.y


def read_geojson(path: Path) -> Iterator[RawAed]:
    document = _load_json(path)
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise ApplicationError(f"{path}: not a GeoJSON FeatureCollection")
    for number, feature in enumerate(features, start=1):
        properties = feature.get("properties") or {}
        source_id = str(properties.get("@id") or properties.get("id") or feature.get("id") or "")
        tags = properties.get("tags") if isinstance(properties.get("tags"), dict) else properties
        tags = {k: v for k, v in tags.items() if not k.startswith("@") and k != "id"}
        lon, lat = _feature_point(feature.get("geometry"))
        row = _osm_row(f"feature {number} ({source_id or 'no id'})", source_id, lon, lat, tags)
        if not OSM_ID.match(source_id):
            row.error = f"@id: {source_id!r} is not an OSM id like node/123"
        yield row


def read_csv(path: Path) -> Iterator[RawAed]:
    """Comma- or semicolon-separated (as Danish Excel saves it), UTF-8, with a header row."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = fh.readline()
        fh.seek(0)
        delimiter = ";" if header.count(";") > header.count(",") else ","
        reader = csv.DictReader(fh, delimiter=delimiter)
        columns = {name.strip() for name in reader.fieldnames or ()}
        missing = [name for name in CSV_REQUIRED if name not in columns]
        if missing:
            raise ApplicationError(f"{path}: missing column(s) {', '.join(missing)}")
        for row in reader:
            values = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
            yield RawAed(
                label=f"row {reader.line_num} ({values.get('source_id') or 'no source_id'})",
                source=Defibrillator.Source.CSV,
                source_id=values.get("source_id", ""),
                lon=values.get("lon"),
                lat=values.get("lat"),
                values={
                    name: values[name]
                    for name in CSV_COLUMNS
                    if name in values and name not in {"source_id", "lat", "lon"}
                },
                tags=values,
            )


READERS = {"osm-json": read_overpass, "geojson": read_geojson, "csv": read_csv}


def _boolean(name: str, value: str) -> bool | None:
    value = value.lower()
    if value in YES:
        return True
    if value in NO:
        return False
    if value:
        raise ValueError(f"{name}: {value!r} is not yes/no")
    return None


def _date(name: str, value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def _mobile(name: str, value: str) -> str:
    """A phone number as E.164 (Danish numbers may come without +45); empty stays empty."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, "DK")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(f"{name}: {value!r} is not a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _coordinate(value: Any) -> float:
    """A number; in a CSV text a decimal comma too ("56,0889", as Danish Excel writes it).
    Missing or not a number: TypeError or ValueError, for the caller to name the field."""
    if isinstance(value, str):
        value = value.replace(",", ".")
    return float(value)


def _location(raw: RawAed) -> Point:
    try:
        lon, lat = _coordinate(raw.lon), _coordinate(raw.lat)
    except (TypeError, ValueError):
        raise ValueError(f"lat/lon: missing or not numbers ({raw.lat!r}, {raw.lon!r})") from None
    if not within_denmark(lon=lon, lat=lat):
        raise ValueError(f"lat/lon: {lat}, {lon} is outside Denmark")
    return Point(lon, lat, srid=4326)


def aed_fields(raw: RawAed) -> dict:
    """The validated model fields of one row; ValueError says which field and why."""
    if raw.error:
        raise ValueError(raw.error)
    max_length = Defibrillator._meta.get_field("source_id").max_length
    if not raw.source_id or len(raw.source_id) > max_length:
        raise ValueError(f"source_id: empty or longer than {max_length} characters")
    fields: dict = {"location": _location(raw), "source_tags": raw.tags}
    for name, value in raw.values.items():
        model_field = Defibrillator._meta.get_field(name)
        max_length = getattr(model_field, "max_length", None)
        if max_length and len(value) > max_length:
            raise ValueError(f"{name}: longer than {max_length} characters")
        fields[name] = value
    fields["name"] = fields.get("name") or DEFAULT_NAME
    if "indoor" in fields:
        fields["indoor"] = _boolean("indoor", fields["indoor"])
    if "access" in fields:
        if fields["access"].lower() not in ACCESS:
            raise ValueError(f"access: unknown value {fields['access']!r}")
        fields["access"] = ACCESS[fields["access"].lower()]
    if "opening_hours" in fields:
        fields["opening_hours"] = fields["opening_hours"] or "24/7"
        if not opening_hours_is_valid(fields["opening_hours"]):
            raise ValueError(f"opening_hours: {fields['opening_hours']!r} is not valid OSM syntax")
    if "status" in fields:
        if fields["status"].lower() not in STATUS:
            raise ValueError(f"status: {fields['status']!r} is not active/inactive")
        fields["status"] = STATUS[fields["status"].lower()]
    for name in ("battery_expires_on", "pads_expire_on"):
        if name in fields:
            fields[name] = _date(name, fields[name])
    if "contact_phone" in fields:
        fields["contact_phone"] = _mobile("contact_phone", fields["contact_phone"])
    return fields
