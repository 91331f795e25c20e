"""amk's models for Django's app registry. Import from the submodules: ``amk.models.territory``
and ``amk.models.addresses`` (reference geography, below the registries),
``amk.models.incident`` (the incident core) and ``amk.models.accounts`` (dispatcher logins)."""

from amk.models.accounts import LoginEvent
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
    "LoginEvent",
    "Municipality",
    "Place",
    "Postcode",
    "Region",
]
