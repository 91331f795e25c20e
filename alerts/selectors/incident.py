"""An incident's alerts as the dispatcher's board and the waves read them."""

from typing import Any

from django.db.models import Case, CharField, Count, F, Q, QuerySet, When
from django.db.models.functions import Cast

from alerts.models import Alert, AlertDelivery, AlertDeliveryAttempt
from amk.models.incident import Incident


def accepted_count(*, incident_id: int) -> int:
    """How many of the incident's volunteers have accepted and are still responding."""
    return Alert.objects.filter(incident_id=incident_id, state__in=Alert.RESPONDING_STATES).count()


# What the message detail shows of each attempt (the admin shows every column).
ATTEMPT_FIELDS = (
    "number",
    "handed_over_at",
    "outcome",
    "duration_ms",
    "provider_message_id",
    "error",
)


def delivery_attempts(*, incident_id: int) -> dict[int, list[dict[str, Any]]]:
    """Every hand-over of the incident's deliveries to a provider, by delivery id, in order of
    attempt: ATTEMPT_FIELDS and the outcome's label in the active language (one query,
    whatever the number of alerts)."""
    labels = dict(AlertDeliveryAttempt.Outcome.choices)
    by_delivery: dict[int, list[dict[str, Any]]] = {}
    rows = (
        AlertDeliveryAttempt.objects.filter(delivery__alert__incident_id=incident_id)
        .order_by("delivery_id", "number")
        .values("delivery_id", *ATTEMPT_FIELDS)
    )
    for row in rows:
        attempt: dict[str, Any] = dict(row)
        attempt["outcome_label"] = str(labels.get(row["outcome"], row["outcome"]))
        by_delivery.setdefault(attempt.pop("delivery_id"), []).append(attempt)
    return by_delivery


def incident_delivery_rows(*, incident_id: int) -> list[tuple[int, int, str, str, str, str]]:
    """The incident's deliveries as (id, alert id, channel, kind, state, error), oldest first."""
    return list(
        AlertDelivery.objects.filter(alert__incident_id=incident_id)
        .order_by("created_at", "pk")
        .values_list("pk", "alert_id", "channel", "kind", "state", "last_error")
    )


def incidents_with_alert_counts(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """Annotated with how many were alerted, have accepted (a role) and still respond."""
    accepted = [Alert.Role.CPR, Alert.Role.AED]
    return incidents.annotate(
        alerted_count=Count("alerts"),
        accepted_count=Count("alerts", filter=Q(alerts__role__in=accepted)),
        responding_count=Count("alerts", filter=Q(alerts__state__in=Alert.RESPONDING_STATES)),
    )


def incident_alert_rows(*, incident_id: int) -> list[Any]:
    """The incident's alerts as plain rows of the columns the board shows (model instances of
    the alert, volunteer, user and AED cost most of the board's time), nearest first.

    Personal data (name, number, live position) is read only for responders: a merely alerted
    volunteer's never leaves the database.
    """

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


def alert_counts(alerts: list[dict]) -> dict[str, int]:
    """The counts of an incident's alerts, from incident_alert_rows with their deliveries."""

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
