"""amk's models for Django's app registry. Import from the submodules: ``amk.models.territory``
(reference geography, below the registries) and ``amk.models.incident`` (the incident core)."""

from amk.models.accounts import LoginEvent
from amk.models.incident import Incident, IncidentEvent
from amk.models.territory import Municipality, Place, Postcode, Region

__all__ = ["Incident", "IncidentEvent", "LoginEvent", "Municipality", "Place", "Postcode", "Region"]
