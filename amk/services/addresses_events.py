"""DAWA's replication events applied to the address register.

An event file holds events as DAWA's ``/replikering/haendelser`` served them (a JSON list or
NDJSON): ``{"sekvensnummer", "tidspunkt", "operation": "insert" | "update" | "delete",
"data": {…}}``, with the entity's normalised fields in ``data``. Entities used:
``adgangsadresse`` (access addresses), ``vejstykke`` (street names by municipality and street
code) and ``postnummer`` (postcode names); given with ``entity`` or recognised by their fields.
Events are applied in sequence-number order, each entity's at most once: those at or below the
entity's cursor (AddressReplicationCursor) are skipped, so a file applied twice, or two
overlapping files, change nothing the second time.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

from amk.models.addresses import (
    AccessAddress,
    AddressPostcodeName,
    AddressReplicationCursor,
    AddressStreetName,
)
from amk.services.addresses import (
    ADDRESS,
    ENTITIES,
    POSTCODE,
    STREET,
    AddressNames,
    address_row,
    address_streets_refresh,
    addresses_upsert,
    code4,
    read_dawa_records,
    text_of,
)
from config.exceptions import ApplicationError

OPERATIONS = ("insert", "update", "delete")


@dataclass
class EventSummary:
    applied: int = 0
    already_applied: int = 0
    skipped: list[str] = field(default_factory=list)
    cursors: dict[str, int] = field(default_factory=dict)

    def skip(self, row: str, reason: str) -> None:
        self.skipped.append(f"{row}: {reason}")

    def __str__(self) -> str:
        cursors = ", ".join(f"{k} {v}" for k, v in sorted(self.cursors.items())) or "none"
        return (
            f"applied {self.applied}, already applied {self.already_applied}, "
            f"skipped {len(self.skipped)}; last sequence numbers: {cursors}"
        )


def _entity_of(data: dict) -> str | None:
    if "husnr" in data:
        return ADDRESS
    if "kode" in data and "kommunekode" in data:
        return STREET
    if "nr" in data and "navn" in data:
        return POSTCODE
    return None


def _keys_of(filters: dict) -> set[tuple[str, str]]:
    return set(AccessAddress.objects.filter(**filters).values_list("street_name", "postcode"))


class _Applier:
    """Applies one file's events; remembers which streets of the search to rebuild."""

    def __init__(self) -> None:
        self.names = AddressNames.load()
        self.touched: set[tuple[str, str]] = set()

    def address(self, operation: str, data: dict) -> str | None:
        try:
            address_id = uuid.UUID(text_of(data.get("id")))
        except ValueError:
            return "id is not a UUID"
        self.touched |= _keys_of({"pk": address_id})
        if operation == "delete":
            AccessAddress.objects.filter(pk=address_id).delete()
            return None
        row = address_row(data, self.names)
        if isinstance(row, str):
            return row
        addresses_upsert([row])
        self.touched.add((row.street_name, row.postcode))
        return None

    def street(self, operation: str, data: dict) -> str | None:
        municipality, code = code4(data.get("kommunekode")), code4(data.get("kode"))
        if not (municipality and code):
            return "kommunekode or kode missing"
        if operation == "delete":
            AddressStreetName.objects.filter(
                municipality_code=municipality, street_code=code
            ).delete()
            self.names.streets.pop((municipality, code), None)
            return None
        name = text_of(data.get("navn"))
        if not name:
            return "navn missing"
        AddressStreetName.objects.update_or_create(
            municipality_code=municipality, street_code=code, defaults={"name": name[:80]}
        )
        self.names.streets[(municipality, code)] = name[:80]
        renamed = AccessAddress.objects.filter(
            municipality_code=municipality, street_code=code
        ).exclude(street_name=name[:80])
        self.touched |= set(renamed.values_list("street_name", "postcode"))
        for postcode in set(renamed.values_list("postcode", flat=True)):
            self.touched.add((name[:80], postcode))
        renamed.update(street_name=name[:80])
        return None

    def postcode(self, operation: str, data: dict) -> str | None:
        number = code4(data.get("nr"))
        if len(number) != 4:
            return "nr is not four digits"
        if operation == "delete":
            AddressPostcodeName.objects.filter(number=number).delete()
            self.names.postcodes.pop(number, None)
            return None
        name = text_of(data.get("navn"))
        if not name:
            return "navn missing"
        AddressPostcodeName.objects.update_or_create(number=number, defaults={"name": name[:60]})
        self.names.postcodes[number] = name[:60]
        renamed = AccessAddress.objects.filter(postcode=number).exclude(postcode_name=name[:60])
        self.touched |= set(renamed.values_list("street_name", "postcode"))
        renamed.update(postcode_name=name[:60])
        return None


def _events(records: Iterable[dict], entity: str | None, summary: EventSummary) -> list:
    events = []
    for number, event in enumerate(records, start=1):
        data, operation = event.get("data"), event.get("operation")
        sequence = event.get("sekvensnummer")
        kind = entity or (_entity_of(data) if isinstance(data, dict) else None)
        if not isinstance(sequence, int) or isinstance(sequence, bool):
            summary.skip(f"event {number}", "sekvensnummer is not an integer")
        elif operation not in OPERATIONS:
            summary.skip(f"event {sequence}", f"operation {operation!r} is not one of {OPERATIONS}")
        elif not isinstance(data, dict):
            summary.skip(f"event {sequence}", "data is not an object")
        elif kind not in ENTITIES:
            summary.skip(f"event {sequence}", "entity not recognised (adgangsadresse, …)")
        else:
            events.append((sequence, kind, operation, data))
    events.sort(key=lambda e: e[0])
    return events


@transaction.atomic
def address_events_apply(*, path: Path, entity: str | None = None) -> EventSummary:
    """Apply a file of replication events in sequence-number order, idempotently."""
    if entity is not None and entity not in ENTITIES:
        raise ApplicationError(f"entity must be one of {', '.join(ENTITIES)}")
    summary = EventSummary()
    events = _events(read_dawa_records(path), entity, summary)
    with connection.cursor() as cursor:
        # One importer at a time: the cursors are read and moved under this lock.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('amk_address_replication'))")
    cursors = dict(AddressReplicationCursor.objects.values_list("entity", "sequence_number"))
    applier = _Applier()
    handlers = {ADDRESS: applier.address, STREET: applier.street, POSTCODE: applier.postcode}
    for sequence, kind, operation, data in events:
        if sequence <= cursors.get(kind, -1):
            summary.already_applied += 1
            continue
        with transaction.atomic():
            reason = handlers[kind](operation, data)
        if reason:
            summary.skip(f"event {sequence} ({kind} {operation})", reason)
        else:
            summary.applied += 1
        cursors[kind] = sequence
    for kind, sequence in cursors.items():
        AddressReplicationCursor.objects.update_or_create(
            entity=kind, defaults={"sequence_number": sequence}
        )
    summary.cursors = cursors
    if applier.touched:
        address_streets_refresh(applier.touched)
    return summary
