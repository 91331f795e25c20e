"""Reads for the dispatcher console: the incident list and the live incident board. The territory
reads (point lookups, place search, the service region's anchors) are in amk.selectors.territory."""

import collections
import datetime as dt
import functools
from typing import Any

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import get_language, gettext

from amk.models.incident import Incident, IncidentEvent

# --- The dispatcher console ------------------------------------------------------------------

CONSOLE_ENDED_WITHIN = dt.timedelta(hours=24)
BOARD_AED_RADIUS_M = 2000
# A dispatched incident still pending after this long means the queue or worker is stuck.
DISPATCH_STUCK_AFTER = dt.timedelta(seconds=15)


def console_incidents(*, now: dt.datetime | None = None) -> QuerySet:
    """Open incidents first, then those ended in the last 24 h; counts annotated (one query)."""
    from alerts.models import Alert

    now = now or timezone.now()
    accepted = [Alert.Role.CPR, Alert.Role.AED]
    return (
        Incident.objects.filter(
            Q(state__in=Incident.OPEN_STATES) | Q(closed_at__gte=now - CONSOLE_ENDED_WITHIN)
        )
        .select_related("municipality")
        .defer("municipality__area")
        .annotate(
            alerted_count=Count("alerts"),
            accepted_count=Count("alerts", filter=Q(alerts__role__in=accepted)),
            responding_count=Count("alerts", filter=Q(alerts__state__in=Alert.RESPONDING_STATES)),
            ended=Case(
                When(state__in=Incident.OPEN_STATES, then=Value(False)),
                default=Value(True),
                output_field=BooleanField(),
            ),
        )
        .order_by("ended", "-created_at")
    )


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
    from alerts.models import AlertDelivery
    from alerts.selectors import delivery_attempts

    channels = _choice_labels(AlertDelivery, "channel")
    kinds = _choice_labels(AlertDelivery, "kind")
    states = _choice_labels(AlertDelivery, "state")
    attempts = delivery_attempts(incident_id=incident_id)
    by_alert: dict[int, list[dict]] = collections.defaultdict(list)
    rows = (
        AlertDelivery.objects.filter(alert__incident_id=incident_id)
        .order_by("created_at", "pk")
        .values_list("pk", "alert_id", "channel", "kind", "state", "last_error")
    )
    for pk, alert_id, channel, kind, state, error in rows:
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


def _board_alert_rows(incident_id: int) -> list[Any]:
    """The incident's alerts as plain rows of the columns the board shows (model instances of
    the alert, volunteer, user and AED cost most of the board's time), nearest first.

    Personal data (name, number, live position) is read only for responders: a merely alerted
    volunteer's never leaves the database.
    """
    from alerts.models import Alert

    def responders_only(expression) -> Case:
        return Case(When(state__in=Alert.RESPONDING_STATES, then=expression), default=None)

    return list(
        Alert.objects.filter(incident_id=incident_id)
        .order_by("distance_m", "pk")
        .values(
            "id",
            "volunteer_id",
            "state",
            "role",
            "pool",
            "wave",
            "distance_m",
            "updated_at",
            "received_at",
            "answered_at",
            "aed_id",
            aed_name=F("aed__name"),
            first_name=responders_only(F("volunteer__user__first_name")),
            # The number as the stored text (E.164): the model field would parse it.
            phone=responders_only(Cast("volunteer__phone", output_field=CharField())),
            live_location=responders_only(F("volunteer__location")),
            live_location_at=responders_only(F("volunteer__location_updated_at")),
            alert_location=responders_only(F("volunteer_location")),
        )
    )


def _board_alert(alert: dict, *, labels: dict, max_age: dt.timedelta, now: dt.datetime) -> dict:
    from alerts.models import Alert

    responding = alert["state"] in Alert.RESPONDING_STATES
    row = {
        "id": alert["id"],
        "label": labels["volunteer"] % {"id": alert["volunteer_id"] or "–"},
        "state": alert["state"],
        "state_label": labels["state"].get(alert["state"], alert["state"]),
        "responding": responding,
        "role": alert["role"],
        "role_label": labels["role"].get(alert["role"], alert["role"]) if alert["role"] else "",
        "pool": alert["pool"],
        "pool_label": labels["pool"].get(alert["pool"], alert["pool"]),
        "wave": alert["wave"],
        "distance_m": alert["distance_m"],
        "aed": alert["aed_name"],
        "updated_at": _iso(alert["updated_at"]),
        "updated_local": _local_time(alert["updated_at"]),
        "deliveries": alert["deliveries"],
        "name": "",
        "phone": "",
        "position": None,
        "position_source": "",
    }
    # Minimal personal data: a name and a number only for someone on the way, to call them.
    if responding and alert["volunteer_id"] is not None:
        row["name"] = alert["first_name"]
        row["phone"] = alert["phone"]
        live_at = alert["live_location_at"]
        if alert["live_location"] and live_at and now - live_at <= max_age:
            row["position"], row["position_source"] = _latlon(alert["live_location"]), "live"
        elif alert["alert_location"]:
            row["position"], row["position_source"] = _latlon(alert["alert_location"]), "alert"
    return row


def _board_counts(alerts: list[dict]) -> dict:
    from alerts.models import Alert, AlertDelivery

    def any_delivery(alert: dict, states) -> bool:
        return any(
            d["kind"] == AlertDelivery.Kind.ALERT and d["state"] in states
            for d in alert["deliveries"]
        )

    handed_over = (AlertDelivery.State.SENT, AlertDelivery.State.DELIVERED)
    return {
        "alerted": len(alerts),
        "waiting": sum(a["state"] in Alert.WAITING_STATES for a in alerts),
        "sent": sum(any_delivery(a, handed_over) for a in alerts),
        # Delivered: confirmed by the app or the provider, or evidently read (answered).
        "delivered": sum(
            a["received_at"] is not None
            or a["answered_at"] is not None
            or any_delivery(a, (AlertDelivery.State.DELIVERED,))
            for a in alerts
        ),
        "accepted": sum(bool(a["role"]) for a in alerts),
        "declined": sum(a["state"] == Alert.State.DECLINED for a in alerts),
        "failed": sum(a["state"] == Alert.State.FAILED for a in alerts),
        "on_the_way": sum(
            a["state"] in (Alert.State.ACCEPTED, Alert.State.EN_ROUTE, Alert.State.AED_COLLECTED)
            for a in alerts
        ),
        "on_scene": sum(a["state"] == Alert.State.ON_SCENE for a in alerts),
        "responding": sum(a["state"] in Alert.RESPONDING_STATES for a in alerts),
    }


def _board_warnings(incident: Incident, counts: dict, policy, now: dt.datetime) -> list[str]:
    warnings: list[str] = []
    if not incident.is_open or incident.exclusion_reasons:
        return warnings
    age = now - incident.created_at
    if incident.state == Incident.State.PENDING_DISPATCH and age > DISPATCH_STUCK_AFTER:
        warnings.append(
            gettext("Not dispatched after %(s)d s: check the dispatch worker.")
            % {"s": age.total_seconds()}
        )
    elif age.total_seconds() >= policy.escalate_after_s and (
        counts["responding"] < policy.target_accepted
    ):
        warnings.append(
            gettext("Only %(n)d of %(target)d volunteers have accepted after %(s)d s.")
            % {
                "n": counts["responding"],
                "target": policy.target_accepted,
                "s": age.total_seconds(),
            }
        )
    return warnings


def _board_aeds(incident: Incident, *, claimed: set[int], now: dt.datetime) -> list[dict]:
    """The nearest AEDs around the incident, whether they can be fetched now, and which are
    already claimed by a responder."""
    from defibrillators.availability import opening_hours_is_open
    from defibrillators.models import Defibrillator

    aeds = (
        Defibrillator.objects.filter(location__dwithin=(incident.location, BOARD_AED_RADIUS_M))
        .annotate(distance=Distance("location", incident.location))
        .order_by("distance")
        .values(
            "id",
            "name",
            "address",
            "placement",
            "opening_hours",
            "location",
            "distance",
            "status",
            "synthetic",
        )[:100]
    )
    return [
        {
            "id": aed["id"],
            "name": aed["name"],
            "address": aed["address"],
            "placement": aed["placement"],
            "opening_hours": aed["opening_hours"],
            "location": _latlon(aed["location"]),
            "distance_m": round(aed["distance"].m),
            "availability": (
                "inactive"
                if aed["status"] != Defibrillator.Status.ACTIVE
                else ("available" if opening_hours_is_open(aed["opening_hours"], now) else "closed")
            ),
            "claimed": aed["id"] in claimed,
            "synthetic": aed["synthetic"],
        }
        for aed in aeds
    ]


def _board_events(incident_id: int) -> list[dict]:
    events = (
        IncidentEvent.objects.filter(incident_id=incident_id)
        .order_by("-created_at", "-pk")
        .values(
            "created_at",
            "kind",
            "message",
            "actor_id",
            "actor__first_name",
            "actor__last_name",
            "actor__username",
        )
    )
    return [
        {
            "time": _iso(e["created_at"]),
            "time_local": _local_time(e["created_at"]),
            "kind": e["kind"],
            "message": e["message"],
            # As User.get_full_name() or get_username().
            "actor": (
                f"{e['actor__first_name']} {e['actor__last_name']}".strip() or e["actor__username"]
                if e["actor_id"]
                else ""
            ),
        }
        for e in events
    ]


def incident_board(*, incident_id: int, now: dt.datetime | None = None) -> dict:
    """Everything the live incident page shows, as JSON-ready data, in a constant seven queries
    that read plain rows (the console polls it every two seconds per open incident).

    Raises Incident.DoesNotExist for an unknown id.
    """
    from alerts.models import Alert
    from alerts.selectors import dispatch_policy_current

    now = now or timezone.now()
    incident = (
        Incident.objects.select_related("municipality")
        .defer("municipality__area")
        .get(pk=incident_id)
    )
    policy = dispatch_policy_current()
    alerts = _board_alert_rows(incident_id)
    deliveries = _board_deliveries(incident_id)
    for alert in alerts:
        alert["deliveries"] = deliveries.get(alert["id"], [])
    counts = _board_counts(alerts)
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
        "policy": {
            "target_accepted": policy.target_accepted,
            "escalate_after_s": policy.escalate_after_s,
            "max_waves": policy.max_waves,
        },
        "counts": counts,
        "warnings": _board_warnings(incident, counts, policy, now),
        "alerts": [_board_alert(a, labels=labels, max_age=max_age, now=now) for a in alerts],
        "aeds": _board_aeds(
            incident, claimed={a["aed_id"] for a in alerts if a["aed_id"]}, now=now
        ),
        "events": _board_events(incident_id),
    }
