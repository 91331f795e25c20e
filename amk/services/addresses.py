"""Writes for the address register: the DAR extract in the DAWA formats, DAWA's replication
events, and the street table the search runs over.

Extract rows are access addresses (adgangsadresser) as DAWA served them, in any of:
- flat ("struktur=mini", and the CSV format): ``id, status, kommunekode, vejkode, vejnavn,
  husnr, supplerendebynavn, postnr, postnrnavn, x, y`` (x/y WGS84 longitude/latitude; the CSV's
  ``wgs84koordinat_længde/_bredde`` or ``etrs89koordinat_øst/_nord`` are read too);
- nested (the default JSON): ``vejstykke.{kode, navn}``, ``postnummer.{nr, navn}``,
  ``kommune.kode``, ``adgangspunkt.koordinater`` ([longitude, latitude]);
- normalised (the replication extract, /replikering/udtraek): codes and
  ``etrs89koordinat_øst/_nord`` (EPSG:25832) only; names are looked up from the street names
  (vejstykke) and postcode names (postnummer) already known.
Files: a JSON list, NDJSON (one object a line) or CSV.
"""

import csv
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

from amk.models.addresses import (
    AccessAddress,
    AddressPostcodeName,
    AddressReplicationCursor,
    AddressStreet,
    AddressStreetName,
)
from config.exceptions import ApplicationError
from config.imports import ImportSummary, Progress

BATCH = 5000
ADDRESS, STREET, POSTCODE = "adgangsadresse", "vejstykke", "postnummer"
ENTITIES = (ADDRESS, STREET, POSTCODE)

_ADDRESSES = AccessAddress._meta.db_table
_STREETS = AddressStreet._meta.db_table
_COLUMNS = (
    "id, status, municipality_code, street_code, street_name, house_number, "
    "supplementary_town, postcode, postcode_name, point, synthetic, updated_at"
)

# One batch of rows upserted by id: points from WGS84 or, failing that, ETRS89/UTM32.
_UPSERT_SQL = f"""
    INSERT INTO {_ADDRESSES} ({_COLUMNS})
    SELECT id, status, kommune, vejkode, vejnavn, husnr, by, postnr, postnavn,
           COALESCE(ST_SetSRID(ST_MakePoint(lon, lat), 4326),
                    ST_Transform(ST_SetSRID(ST_MakePoint(east, north), 25832), 4326))::geography,
           false, now()
    FROM unnest(%s::uuid[], %s::int[], %s::text[], %s::text[], %s::text[], %s::text[],
                %s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], %s::float8[],
                %s::float8[])
         AS row(id, status, kommune, vejkode, vejnavn, husnr, by, postnr, postnavn, lon, lat,
                east, north)
    ON CONFLICT (id) DO UPDATE SET
        status = EXCLUDED.status, municipality_code = EXCLUDED.municipality_code,
        street_code = EXCLUDED.street_code, street_name = EXCLUDED.street_name,
        house_number = EXCLUDED.house_number, supplementary_town = EXCLUDED.supplementary_town,
        postcode = EXCLUDED.postcode, postcode_name = EXCLUDED.postcode_name,
        point = EXCLUDED.point, synthetic = false, updated_at = now()
    WHERE ({_ADDRESSES}.status, {_ADDRESSES}.municipality_code, {_ADDRESSES}.street_code,
           {_ADDRESSES}.street_name, {_ADDRESSES}.house_number,
           {_ADDRESSES}.supplementary_town, {_ADDRESSES}.postcode, {_ADDRESSES}.postcode_name,
           {_ADDRESSES}.synthetic, ST_AsBinary({_ADDRESSES}.point))
          IS DISTINCT FROM
          (EXCLUDED.status, EXCLUDED.municipality_code, EXCLUDED.street_code,
           EXCLUDED.street_name, EXCLUDED.house_number, EXCLUDED.supplementary_town,
           EXCLUDED.postcode, EXCLUDED.postcode_name, false, ST_AsBinary(EXCLUDED.point))
    RETURNING xmax = 0
"""  # noqa: S608  identifiers are constants; values are parameters

# The streets of the given (street, postcode) keys, or of all when keys is NULL, from the
# addresses: one row per street and postcode, with its normalised search text.
_STREETS_REFRESH_SQL = f"""
    INSERT INTO {_STREETS} (street_name, postcode, postcode_name, municipality_code,
                            search_text, address_count, point, synthetic)
    SELECT a.street_name, a.postcode, min(a.postcode_name), mode() WITHIN GROUP
           (ORDER BY a.municipality_code),
           amk_address_normalise(concat_ws(' ', a.street_name,
               string_agg(DISTINCT NULLIF(a.supplementary_town, ''), ' '), min(a.postcode_name))),
           count(*), (array_agg(a.point ORDER BY length(a.house_number), a.house_number))[1],
           bool_and(a.synthetic)
    FROM {_ADDRESSES} a
    WHERE %(all)s OR (a.street_name, a.postcode) IN
        (SELECT * FROM unnest(%(names)s::text[], %(postcodes)s::text[]))
    GROUP BY a.street_name, a.postcode
"""  # noqa: S608  identifiers are constants; values are parameters


@dataclass
class AddressRow:
    id: uuid.UUID
    status: int
    municipality_code: str
    street_code: str
    street_name: str
    house_number: str
    supplementary_town: str
    postcode: str
    postcode_name: str
    lon: float | None
    lat: float | None
    east: float | None
    north: float | None


@dataclass
class AddressNames:
    """Street and postcode names known so far, for rows that carry codes only."""

    streets: dict[tuple[str, str], str] = field(default_factory=dict)
    postcodes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "AddressNames":
        return cls(
            {
                (m, s): n
                for m, s, n in AddressStreetName.objects.values_list(
                    "municipality_code", "street_code", "name"
                )
            },
            dict(AddressPostcodeName.objects.values_list("number", "name")),
        )


def text_of(value: object) -> str:
    return "" if value is None else str(value).strip()


def code4(value: object) -> str:
    text = text_of(value)
    return text.zfill(4) if text.isdigit() else text


def _float(value: object) -> float | None:
    try:
        return float(str(value).replace(",", ".")) if text_of(value) else None
    except ValueError:
        return None


def _nested(record: dict, key: str, inner: str) -> object:
    value = record.get(key)
    return value.get(inner) if isinstance(value, dict) else None


def _coordinates(record: dict) -> tuple[float | None, float | None, float | None, float | None]:
    """(lon, lat, east, north) from whichever coordinates the record has."""
    lon, lat = _float(record.get("x")), _float(record.get("y"))
    if lon is None or lat is None:
        lon = _float(record.get("wgs84koordinat_længde"))
        lat = _float(record.get("wgs84koordinat_bredde"))
    point = record.get("adgangspunkt")
    if (lon is None or lat is None) and isinstance(point, dict):
        coordinates = point.get("koordinater")
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            lon, lat = _float(coordinates[0]), _float(coordinates[1])
    if lon is not None and lat is not None:
        return lon, lat, None, None
    east = _float(record.get("etrs89koordinat_øst"))
    north = _float(record.get("etrs89koordinat_nord"))
    return None, None, east, north


def address_row(record: dict, names: AddressNames) -> AddressRow | str:
    """One access address from a DAWA record, or the reason it cannot be used."""
    try:
        address_id = uuid.UUID(text_of(record.get("id")))
    except ValueError:
        return "id is not a UUID"
    municipality = code4(record.get("kommunekode") or _nested(record, "kommune", "kode"))
    street_code = code4(record.get("vejkode") or _nested(record, "vejstykke", "kode"))
    street = text_of(record.get("vejnavn") or _nested(record, "vejstykke", "navn"))
    street = street or names.streets.get((municipality, street_code), "")
    postcode = code4(record.get("postnr") or _nested(record, "postnummer", "nr"))
    postcode_name = text_of(record.get("postnrnavn") or _nested(record, "postnummer", "navn"))
    postcode_name = postcode_name or names.postcodes.get(postcode, "")
    number = text_of(record.get("husnr")).replace(" ", "")
    lon, lat, east, north = _coordinates(record)
    if not street:
        return f"no street name (vejnavn, or vejstykke {municipality}/{street_code} unknown)"
    if not number or len(number) > 8:
        return "husnr missing or too long"
    if len(postcode) != 4 or not postcode.isdigit():
        return "postnr is not four digits"
    if (lon is None or lat is None) and (east is None or north is None):
        return "no coordinates (x/y, adgangspunkt or etrs89koordinat)"
    status = text_of(record.get("status"))
    if street_code and municipality:
        names.streets[(municipality, street_code)] = street
    if postcode_name:
        names.postcodes[postcode] = postcode_name
    return AddressRow(
        address_id,
        int(status) if status.isdigit() else 1,
        municipality,
        street_code,
        street[:80],
        number,
        text_of(record.get("supplerendebynavn"))[:60],
        postcode,
        postcode_name[:60],
        lon,
        lat,
        east,
        north,
    )


def read_dawa_records(path: Path) -> Iterator[dict]:
    """Records of a DAWA file: a JSON list, NDJSON or CSV, by content."""
    if not path.is_file():
        raise ApplicationError(f"File not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        head = fh.read(1)
        while head.isspace():
            head = fh.read(1)
        fh.seek(0)
        if head == "[":
            try:
                document = json.load(fh)
            except ValueError as exc:
                raise ApplicationError(f"{path}: not valid JSON ({exc})") from exc
            yield from (item for item in document if isinstance(item, dict))
        elif head == "{":
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        item = json.loads(line)
                    except ValueError as exc:
                        raise ApplicationError(f"{path}:{number}: not valid JSON ({exc})") from exc
                    if isinstance(item, dict):
                        yield item
        else:
            yield from csv.DictReader(fh)


def _names_save(names: AddressNames) -> None:
    AddressStreetName.objects.bulk_create(
        [
            AddressStreetName(municipality_code=m, street_code=s, name=n)
            for (m, s), n in names.streets.items()
        ],
        update_conflicts=True,
        unique_fields=["municipality_code", "street_code"],
        update_fields=["name"],
    )
    AddressPostcodeName.objects.bulk_create(
        [AddressPostcodeName(number=k, name=v) for k, v in names.postcodes.items()],
        update_conflicts=True,
        unique_fields=["number"],
        update_fields=["name"],
    )


def addresses_upsert(rows: list[AddressRow]) -> list[tuple[bool]]:
    columns = [
        [str(r.id) for r in rows],
        *(
            [getattr(r, name) for r in rows]
            for name in (
                "status",
                "municipality_code",
                "street_code",
                "street_name",
                "house_number",
                "supplementary_town",
                "postcode",
                "postcode_name",
                "lon",
                "lat",
                "east",
                "north",
            )
        ),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_SQL, columns)
        return cursor.fetchall()


def address_streets_refresh(keys: Iterable[tuple[str, str]] | None = None) -> None:
    """Rebuild the search's street rows for (street name, postcode) keys, or all of them."""
    keys = None if keys is None else sorted(set(keys))
    with connection.cursor() as cursor:
        if keys is None:
            cursor.execute(f"TRUNCATE {_STREETS}")
        else:
            cursor.execute(
                f"DELETE FROM {_STREETS} WHERE (street_name, postcode) IN "  # noqa: S608
                "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                [[k[0] for k in keys], [k[1] for k in keys]],
            )
        cursor.execute(
            _STREETS_REFRESH_SQL,
            {
                "all": keys is None,
                "names": [k[0] for k in keys or []],
                "postcodes": [k[1] for k in keys or []],
            },
        )


@transaction.atomic
def addresses_import(
    *,
    path: Path,
    replace: bool = False,
    sequence_number: int | None = None,
    progress: Progress = lambda message: None,
) -> ImportSummary:
    """Access addresses from a DAR extract, upserted by id (idempotent).

    ``replace``: the file is the whole register; real addresses not in it are deleted (the
    synthetic ones stay). ``sequence_number``: the replication sequence number the extract was
    taken at, so later event files start after it.
    """
    summary = ImportSummary()
    names = AddressNames.load()
    seen: set[uuid.UUID] = set()
    batch: list[AddressRow] = []

    def flush() -> None:
        written = addresses_upsert(batch)
        created = sum(1 for (inserted,) in written if inserted)
        summary.created += created
        summary.updated += len(written) - created
        batch.clear()

    for number, record in enumerate(read_dawa_records(path), start=1):
        row = address_row(record, names)
        if isinstance(row, str):
            summary.skip(f"record {number}", row)
        elif row.id in seen:
            summary.skip(f"record {number} ({row.id})", "duplicate id")
        else:
            seen.add(row.id)
            batch.append(row)
            if len(batch) >= BATCH:
                flush()
                progress(f"{len(seen)} addresses read …")
    if batch:
        flush()
    summary.unchanged = len(seen) - summary.created - summary.updated
    _names_save(names)
    if replace:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {_ADDRESSES} WHERE NOT synthetic AND NOT id = ANY(%s::uuid[])",  # noqa: S608
                [[str(i) for i in seen]],
            )
            progress(f"{cursor.rowcount} addresses not in the file deleted")
    if sequence_number is not None:
        for entity in ENTITIES:
            AddressReplicationCursor.objects.update_or_create(
                entity=entity, defaults={"sequence_number": sequence_number}
            )
    progress("Rebuilding the street search …")
    address_streets_refresh()
    return summary
