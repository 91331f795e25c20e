"""The live incident board: everything the dispatcher's incident page shows, as JSON-ready
data in a constant number of queries. It reads the alerts through alerts' selectors and the
AEDs through the registry's.

The page shows the same data twice: rendered by the server for the first paint
(amk/templates/amk/incident_detail.html) and by the browser after every poll
(amk/static/amk/incident_board.js); the labels both show are built here, once."""

import collections
import datetime as dt
import functools

from django.contrib.gis.geos import Point
from django.utils import formats, timezone
from django.utils.translation import get_language, gettext

from alerts.models import Alert, AlertDelivery, DispatchPolicy
from alerts.selectors.aeds import aeds_in_use
from alerts.selectors.incident import (
    alert_counts,
    delivery_attempts,
    incident_alert_rows,
    incident_delivery_rows,
)
from alerts.selectors.policy import incident_policy
from amk.console.attention import DISPATCH_STUCK_AFTER, incident_attention
from amk.console.timeline import TIMELINE_FIELDS, timeline_lines, volunteer_labels
from amk.models.incident import Incident, IncidentEvent
from defibrillators.selectors import aeds_near

BOARD_AED_RADIUS_M = 2000
# The states in which the dispatcher can change a responder's role (alerts.services.roles).
ROLE_SETTABLE_STATES = (Alert.State.ACCEPTED, Alert.State.EN_ROUTE)
WAVE_REQUEST_STATES = (Incident.State.DISPATCHING, Incident.State.ACTIVE)


@functools.cache
def _choice_labels_in(model, field_name: str, language: str | None) -> dict[str, str]:
    return {value: str(label) for value, label in model._meta.get_field(field_name).flatchoices}


def _choice_labels(model, field_name: str) -> dict[str, str]:
    """Choice labels as plain text in the active language, built once per language: Django
    rebuilds the choices dict on every ``get_<field>_display()``, and lazy labels translate again
    on every ``str()`` (together a fifth of the board's time)."""
    return _choice_labels_in(model, field_name, get_language())


def _local_time(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%H:%M:%S") if moment else ""


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _latlon(point: Point | None) -> list[float] | None:
    return [round(point.y, 6), round(point.x, 6)] if point else None


def _board_deliveries(incident_id: int) -> dict[int, list[dict]]:
    """The incident's deliveries by alert id, oldest first, with their attempts (two queries)."""
    channels = _choice_labels(AlertDelivery, "channel")
    kinds = _choice_labels(AlertDelivery, "kind")
    states = _choice_labels(AlertDelivery, "state")
    attempts = delivery_attempts(incident_id=incident_id)
    by_alert: dict[int, list[dict]] = collections.defaultdict(list)
    for pk, alert_id, channel, kind, state, error in incident_delivery_rows(
        incident_id=incident_id
    ):
        by_alert[alert_id].append(
            {
                "channel": channel,
                "channel_label": channels.get(channel, channel),
                "kind": kind,
                "kind_label": kinds.get(kind, kind),
                "state": state,
                "state_label": states.get(state, state),
                "error": error if state == AlertDelivery.State.FAILED else "",
                "attempts": [
                    attempt
                    | {
                        "handed_over_at": _iso(attempt["handed_over_at"]),
                        "handed_over_local": _local_time(attempt["handed_over_at"]),
                    }
                    for attempt in attempts.get(pk, ())
                ],
            }
        )
    return by_alert


def _minutes_until(moment: dt.datetime | None, now: dt.datetime) -> int | None:
    """Whole minutes until an estimated arrival, rounded up; 0 once it is due."""
    if moment is None:
        return None
    return max(0, -(-int((moment - now).total_seconds()) // 60))


def _board_alert(
    alert: dict,
    *,
    labels: dict,
    names: dict[int, str],
    is_open: bool,
    max_age: dt.timedelta,
    now: dt.datetime,
) -> dict:
    responding = alert["state"] in Alert.RESPONDING_STATES
    accepted = "accepted" in alert["counted"]
    row = {
        "id": alert["id"],
        "label": labels["volunteer"] % {"id": alert["volunteer_id"] or "–"},
        "display_name": names[alert["id"]],
        "state": alert["state"],
        "state_label": labels["state"].get(alert["state"], alert["state"]),
        "counted": alert["counted"],
        "accepted": accepted,
        "responding": responding,
        "can_stand_down": is_open and responding,
        # The dispatcher may give another role to a responder not yet there or with the AED.
        "can_set_role": is_open and alert["state"] in ROLE_SETTABLE_STATES,
        "role_by_dispatcher": alert["role_by_dispatcher"],
        "arrival_min": _minutes_until(alert["arrival_estimated_at"], now) if responding else None,
        "role": alert["role"],
        "role_label": labels["role"].get(alert["role"], alert["role"]) if alert["role"] else "",
        "pool": alert["pool"],
        "pool_label": labels["pool"].get(alert["pool"], alert["pool"]),
        "wave": alert["wave"],
        "distance_m": alert["distance_m"],
        "aed": alert["aed_name"],
        "aed_id": alert["aed_id"],
        "updated_at": _iso(alert["updated_at"]),
        "updated_local": _local_time(alert["updated_at"]),
        "deliveries": alert["deliveries"],
        "name": "",
        "phone": "",
        "position": None,
        "position_source": "",
    }
    # Minimal personal data: a name and a number for those who accepted, to call them; where
    # they are only while they respond.
    if accepted and alert["volunteer_id"] is not None:
        row["name"] = alert["first_name"] or ""
        row["phone"] = alert["phone"] or ""
    if responding and alert["volunteer_id"] is not None:
        live_at = alert["live_location_at"]
        if alert["live_location"] and live_at and now - live_at <= max_age:
            row["position"], row["position_source"] = _latlon(alert["live_location"]), "live"
        elif alert["alert_location"]:
            row["position"], row["position_source"] = _latlon(alert["alert_location"]), "alert"
    return row


def _wave_label(incident: Incident, policy: DispatchPolicy, now: dt.datetime) -> str:
    """The wave line: "Wave 2 of 3 · radius 7.5 km"; a wave beyond the policy's maximum (sent
    at the dispatcher's request) is "extra"; before the first wave, what is happening instead
    (alerting, or after DISPATCH_STUCK_AFTER not dispatched, as the warning says)."""
    wave = incident.dispatch_wave
    if not wave:
        if incident.exclusion_reasons or not incident.is_open:
            return ""
        if now - incident.created_at > DISPATCH_STUCK_AFTER:
            return gettext("Not dispatched yet")
        return gettext("Alerting volunteers…")
    if wave > policy.max_waves:
        label = gettext("Wave %(wave)d (extra, beyond the %(max)d planned)")
    else:
        label = gettext("Wave %(wave)d of %(max)d")
    label %= {"wave": wave, "max": policy.max_waves}
    if incident.dispatch_radius_m:
        km = formats.number_format(incident.dispatch_radius_m / 1000, 1)
        label += " · " + gettext("radius %(km)s km") % {"km": km}
    return label


def _board_aeds(incident: Incident, *, claimed: set[int], now: dt.datetime) -> list[dict]:
    """The nearest AEDs around the incident, whether they can be fetched now (an AED sent for
    elsewhere and not yet back is "in use"), which are already claimed by a responder here,
    and whether the battery or pads have expired or expire soon (two queries)."""
    aeds = aeds_near(point=incident.location, radius_m=BOARD_AED_RADIUS_M, at=now)
    in_use = aeds_in_use(aed_ids=[aed["id"] for aed in aeds]) - claimed
    return [
        {
            "id": aed["id"],
            "name": aed["name"],
            "address": aed["address"],
            "placement": aed["placement"],
            "opening_hours": aed["opening_hours"],
            "location": _latlon(aed["location"]),
            "distance_m": aed["distance_m"],
            "availability": "in_use"
            if aed["id"] in in_use and aed["availability"] in {"available", "closed"}
            else aed["availability"],
            "claimed": aed["id"] in claimed,
            "access": aed["access"],
            "expired": aed["expired"],
            "expires_soon": aed["expires_soon"],
            "next_expiry": aed["next_expiry"].isoformat() if aed["next_expiry"] else None,
            "synthetic": aed["synthetic"],
        }
        for aed in aeds
    ]


def _board_events(incident_id: int, alerts: list[dict]) -> list[dict]:
    events = IncidentEvent.objects.filter(incident_id=incident_id).order_by("created_at", "pk")
    return timeline_lines(list(events.values(*TIMELINE_FIELDS)), alerts=alerts)


def incident_board(*, incident_id: int, now: dt.datetime | None = None) -> dict:
    """Everything the live incident page shows, as JSON-ready data, in a constant seven queries
    that read plain rows (the console polls it every two seconds per open incident).

    Raises Incident.DoesNotExist for an unknown id.
    """
    now = now or timezone.now()
    incident = (
        Incident.objects.select_related("municipality")
        .defer("municipality__area")
        .get(pk=incident_id)
    )
    policy = incident_policy(incident)
    alerts = incident_alert_rows(incident_id=incident_id)
    deliveries = _board_deliveries(incident_id)
    for alert in alerts:
        alert["deliveries"] = deliveries.get(alert["id"], [])
    counts = alert_counts(alerts)
    # Responders first, then those not yet answered, then the rest; nearest first within each.
    rank = dict.fromkeys(Alert.RESPONDING_STATES, 0) | dict.fromkeys(Alert.WAITING_STATES, 1)
    alerts.sort(
        key=lambda a: (rank.get(a["state"], 2), a["distance_m"] is None, a["distance_m"] or 0)
    )
    labels = {
        "volunteer": gettext("Volunteer #%(id)s"),
        "state": _choice_labels(Alert, "state"),
        "role": _choice_labels(Alert, "role"),
        "pool": _choice_labels(Alert, "pool"),
    }
    names = volunteer_labels(alerts)
    max_age = dt.timedelta(seconds=policy.location_max_age_s)
    return {
        "generated_at": _iso(now),
        "incident": {
            "id": incident.pk,
            "state": incident.state,
            "state_label": _choice_labels(Incident, "state").get(incident.state, incident.state),
            "is_open": incident.is_open,
            "address": incident.address,
            "municipality": incident.municipality.name,
            "note": incident.note,
            "location": _latlon(incident.location),
            "wave": incident.dispatch_wave,
            "wave_label": _wave_label(incident, policy, now),
            "extra_wave": incident.dispatch_wave > policy.max_waves,
            # The dispatcher may ask for another wave (alerts.services.waves.incident_escalate):
            # while recruiting, and after the target was reached (someone may have dropped out).
            "can_request_wave": incident.state in WAVE_REQUEST_STATES
            and not incident.exclusion_reasons,
            "radius_m": incident.dispatch_radius_m,
            "created_at": _iso(incident.created_at),
            "created_local": _local_time(incident.created_at),
            "age_s": int((now - incident.created_at).total_seconds()),
            "closed_at": _iso(incident.closed_at),
            "closed_local": _local_time(incident.closed_at),
            "exclusion_reasons": [
                str(Incident.Exclusion(r).label)
                for r in incident.exclusion_reasons
                if r in Incident.Exclusion.values
            ],
        },
        # The incident's own copy of the policy, which its waves and timers follow.
        "policy": {
            "mode": policy.mode,
            "target_accepted": policy.target_accepted,
            "escalate_after_s": policy.escalate_after_s,
            "max_waves": policy.max_waves,
            "max_radius_m": policy.max_radius_m,
            "outstanding_target": policy.outstanding_target,
            "alert_valid_s": policy.alert_valid_s,
            "auto_close_after_s": policy.auto_close_after_s,
        },
        "counts": counts,
        "warnings": [
            reason.text
            for reason in incident_attention(incident, counts=counts, policy=policy, now=now)
        ],
        "alerts": [
            _board_alert(
                a,
                labels=labels,
                names=names,
                is_open=incident.is_open,
                max_age=max_age,
                now=now,
            )
            for a in alerts
        ],
        "aeds": _board_aeds(
            incident, claimed={a["aed_id"] for a in alerts if a["aed_id"]}, now=now
        ),
        "events": _board_events(incident_id, alerts),
    }
