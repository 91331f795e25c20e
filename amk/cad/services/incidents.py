"""What a CAD does to incidents, through the incident core's own services (so dispatch,
stand-downs and the timeline happen exactly as from the console), keyed by its incident number.

A create is idempotent: the number is unique per system (constraint), and concurrent repeats
queue on a transaction-scoped advisory lock of (system, number), so only the first creates
(and dispatches); a repeat gets the same incident, a repeat with another location or address
is a conflict (409) naming the fields.
"""

import datetime as dt
import math
from collections.abc import Iterable

from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from amk.cad.models import CadIncident, CadSystem
from amk.cad.selectors import cad_incident_get
from amk.cad.services.callbacks import callbacks_record_existing
from amk.models.incident import Incident, IncidentEvent
from amk.services.incidents import (
    incident_cancel,
    incident_close,
    incident_create,
    incident_note_add,
    incident_update,
)
from config.exceptions import ApplicationError

CAD = IncidentEvent.Origin.CAD
# A repeat's location may differ by rounding, not more.
SAME_PLACE_M = 1.0


def _distance_m(a: Point, b: Point) -> float:
    """Metres between two nearby points (equirectangular: exact enough within a few km)."""
    mean_lat = math.radians((a.y + b.y) / 2)
    dx = (a.x - b.x) * 111_320 * math.cos(mean_lat)
    dy = (a.y - b.y) * 110_574
    return math.hypot(dx, dy)


def _repeat_check(link: CadIncident, *, location: Point, address: str) -> None:
    """A repeat must carry the data the incident was created with."""
    differ = []
    if _distance_m(link.created_location, location) > SAME_PLACE_M:
        differ.append("location")
    if address.strip() != link.created_address:
        differ.append("address")
    if differ:
        raise ApplicationError(
            _("CAD number %(number)s exists with another %(fields)s.")
            % {"number": link.cad_number, "fields": ", ".join(differ)},
            field=differ[0],
            code="conflict",
        )


def _number_lock(system: CadSystem, cad_number: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"cad-incident:{system.pk}:{cad_number}"],
        )


def cad_incident_create(
    *,
    system: CadSystem,
    cad_number: str,
    location: Point,
    address: str = "",
    note: str = "",
    exclusion_reasons: Iterable[str] = (),
    called_at: dt.datetime | None = None,
) -> tuple[CadIncident, bool]:
    """The incident for this CAD number, created (and dispatched) the first time; returns it
    and whether it was created now."""
    try:
        with transaction.atomic():
            _number_lock(system, cad_number)
            existing = CadIncident.objects.filter(system=system, cad_number=cad_number).first()
            if existing is not None:
                _repeat_check(existing, location=location, address=address)
                return existing, False
            incident = incident_create(
                created_by=system.user,
                location=location,
                address=address,
                note=note,
                exclusion_reasons=exclusion_reasons,
                origin=CAD,
                called_at=called_at,
            )
            if incident.municipality.region_id != system.region_id:
                raise ApplicationError(
                    _("The location is outside this CAD system's dispatch region."),
                    field="location",
                    code="outside_region",
                )
            link = CadIncident.objects.create(
                system=system,
                cad_number=cad_number,
                incident=incident,
                created_location=location,
                created_address=incident.address,
            )
            # The creation's timeline entries were written before the link existed.
            callbacks_record_existing(link=link)
            return link, True
    except IntegrityError:
        # The constraint's backstop (a lock held elsewhere than here): the other create won.
        existing = CadIncident.objects.get(system=system, cad_number=cad_number)
        _repeat_check(existing, location=location, address=address)
        return existing, False


def cad_incident_update(
    *,
    system: CadSystem,
    cad_number: str,
    location: Point | None = None,
    address: str | None = None,
    note: str = "",
) -> CadIncident:
    """A corrected location or address, and a note on the timeline."""
    link = cad_incident_get(system=system, cad_number=cad_number)
    with transaction.atomic():
        if location is not None or address is not None:
            link.incident = incident_update(
                incident_id=link.incident_id,
                actor=system.user,
                location=location,
                address=address,
                origin=CAD,
            )
        if note.strip():
            incident_note_add(
                incident_id=link.incident_id, actor=system.user, text=note, origin=CAD
            )
    return link


def _end(system: CadSystem, cad_number: str, state: str, **closing) -> CadIncident:
    """Cancel or close; a repeat of the same end is answered as done, the other end is 409."""
    link = cad_incident_get(system=system, cad_number=cad_number)
    end = incident_cancel if state == Incident.State.CANCELLED else incident_close
    try:
        end(incident_id=link.incident_id, actor=system.user, origin=CAD, **closing)
    except ApplicationError:
        link.incident.refresh_from_db()
        if link.incident.state != state:
            raise
    link.incident.refresh_from_db()
    return link


def cad_incident_cancel(*, system: CadSystem, cad_number: str) -> CadIncident:
    """Not a cardiac arrest after all: everyone alerted is stood down."""
    return _end(system, cad_number, Incident.State.CANCELLED)


def cad_incident_close(
    *, system: CadSystem, cad_number: str, ems_arrived_at: dt.datetime | None = None
) -> CadIncident:
    """The ambulance is there: the responders are released with thanks; its arrival time, when
    the CAD knows it, is kept for the statistics."""
    return _end(system, cad_number, Incident.State.CLOSED, ems_arrived_at=ems_arrived_at)
