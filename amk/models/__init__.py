"""amk's models for Django's app registry. Import from the submodules: ``amk.models.territory``
and ``amk.models.addresses`` (reference geography, below the registries) and
``amk.models.incident`` (the incident core)."""

from amk.models.addresses import (
    AccessAddress,
    AddressPostcodeName,
    AddressReplicationCursor,
    AddressStreet,
    AddressStreetName,
)
from amk.models.incident import Incident, IncidentEvent
from amk.models.territory import Municipality, Place, Postcode, Region

__all__ = [
    "AccessAddress",
    "AddressPostcodeName",
    "AddressReplicationCursor",
    "AddressStreet",
    "AddressStreetName",
    "Incident",
    "IncidentEvent",
    "Municipality",
    "Place",
    "Postcode",
    "Region",
]
