"""A CAD system with a key, and its requests, for the CAD integration's tests."""

from amk.cad.models import CadSystem
from amk.cad.services.keys import api_key_issue, cad_system_create

CREATE_URL = "/api/cad/v1/incidents/"
STORE_TORV = {"lat": 56.1567, "lon": 10.2108}  # Aarhus C


def cad_system(*, name: str = "Region Midt CAD", callback_url: str = "") -> tuple[CadSystem, str]:
    system = cad_system_create(name=name, callback_url=callback_url)
    _key, raw = api_key_issue(system=system, name="production")
    return system, raw


def auth(raw_key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


def create_body(number: str = "AMK-2026-0001", **overrides) -> dict:
    body = {
        "cad_number": number,
        "location": STORE_TORV,
        "address": "Store Torv 1, 8000 Aarhus C",
        "note": "Mand 60 år, bevidstløs, ingen normal vejrtrækning",
    }
    return body | overrides


def incident_url(number: str, action: str = "") -> str:
    return f"/api/cad/v1/incidents/{number}/" + (f"{action}/" if action else "")
