"""The CAD integration's reads: a key by its value, a CAD's incident (its own only), the
incident's state as the CAD reads it and as the callbacks carry it, the callbacks due."""

import datetime as dt
import hmac
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.selectors.incident import ALERT_COUNTS, alert_counts, incident_alert_rows
from amk.cad.models import KEY_PREFIX, CadApiKey, CadCallback, CadIncident, CadSystem, key_hash
from config.exceptions import ApplicationError


def api_key_lookup(*, raw_key: str) -> CadApiKey | None:
    """The live key with this value (its system loaded), or None: unknown, revoked, malformed."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = (
        CadApiKey.objects.select_related("system", "system__user")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, key_hash(raw_key)):
        return None
    return key


def cad_incident_get(*, system: CadSystem, cad_number: str) -> CadIncident:
    """The system's incident by its CAD number; another system's incidents are not found."""
    found = (
        CadIncident.objects.select_related("incident", "incident__municipality")
        .filter(system=system, cad_number=cad_number)
        .first()
    )
    if found is None:
        raise ApplicationError(_("No incident with this CAD number."), code="not_found")
    return found


def _minutes_until(moment: dt.datetime | None, now: dt.datetime) -> int | None:
    if moment is None:
        return None
    return max(0, -(-int((moment - now).total_seconds()) // 60))


def cad_incident_state(
    *, cad_incident: CadIncident, now: dt.datetime | None = None, alerts: list | None = None
) -> dict:
    """What the CAD reads of its incident: state, counts of the alerts (alerts' own
    definitions, as the board shows them), and each responder's role and estimated arrival.
    No personal data of the volunteers: the console shows names and numbers to whom needs
    them. ``alerts`` given: the incident's alert rows as the caller knows them (none, just after
    its creation)."""
    now = now or timezone.now()
    incident = cad_incident.incident
    if alerts is None:
        alerts = incident_alert_rows(incident_id=incident.pk)
    counts = alert_counts(alerts)
    responders: list[dict[str, Any]] = [
        {
            "alert_id": row["id"],
            "state": row["state"],
            "role": row["role"],
            "aed": row["aed_name"] if row["role"] == "aed" else None,
            "distance_m": row["distance_m"],
            "arrival_estimated_at": row["arrival_estimated_at"],
            "arrival_in_min": _minutes_until(row["arrival_estimated_at"], now),
        }
        for row in alerts
        if "accepted" in row["counted"]  # has a role: cpr or aed
    ]
    responders.sort(key=lambda r: (r["arrival_estimated_at"] is None, r["arrival_estimated_at"]))
    return {
        "cad_number": cad_incident.cad_number,
        "incident_id": incident.pk,
        "state": incident.state,
        "location": {"lat": incident.location.y, "lon": incident.location.x},
        "address": incident.address,
        "municipality": incident.municipality.name,
        "created_at": incident.created_at,
        "closed_at": incident.closed_at,
        "waves": incident.dispatch_wave,
        "counts": {key: counts[key] for key in ALERT_COUNTS},
        "responders": responders,
    }


def callbacks_due(*, now: dt.datetime, lease: dt.timedelta, limit: int = 500) -> list[int]:
    """Callbacks a lost enqueue or a failed try left behind: pending and due, or sending past
    their lease (the sender vanished)."""
    return list(
        CadCallback.objects.filter(
            Q(state=CadCallback.State.PENDING, next_attempt_at__lte=now)
            | Q(state=CadCallback.State.SENDING, updated_at__lt=now - lease)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def callbacks_configured() -> bool:
    """Whether any active CAD system takes callbacks (else no timeline entry needs a look)."""
    return CadSystem.objects.filter(is_active=True).exclude(callback_url="").exists()
