"""An incident's alerts as the dispatcher's board, the incident list and the waves read them.

The counts (alerted, delivered, accepted, on the way, ...) are defined once, in
``ALERT_COUNTS``: one condition on an alert per count. The board reads each condition per alert
(``incident_alert_rows`` puts one boolean per count on every row, so its header is the sum of
its rows), the incident list as aggregates (``incidents_with_alert_counts``), the waves and the
answers through ``accepted_count``; all from the same expressions, so they cannot disagree.
"""

import datetime as dt
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Cast, JSONObject

from alerts.models import Alert, AlertDelivery, AlertDeliveryAttempt
from amk.models.incident import Incident

ACCEPTED_ROLES = (Alert.Role.CPR, Alert.Role.AED)


def _alert_message(*states: str) -> Exists:
    """The alert message itself (not a follow-up) reached one of these states on any channel."""
    return Exists(
        AlertDelivery.objects.filter(
            alert=OuterRef("pk"), kind=AlertDelivery.Kind.ALERT, state__in=states
        )
    )


# Every count of an incident's alerts, in the order the board's header shows them: a condition
# on one alert. An alert keeps its role until it withdraws or is stood down (the AED claim goes
# with it), also when the incident ends: "accepted" still counts who came after the close.
ALERT_COUNTS: dict[str, Q] = {
    # Every volunteer alerted for the incident.
    "alerted": Q(pk__isnull=False),
    # Unanswered and still open to an answer.
    "waiting": Q(state__in=Alert.WAITING_STATES),
    # The alert message was handed to a provider (push or SMS).
    "sent": Q(state__in=(Alert.State.SENT, Alert.State.DELIVERED))
    | Q(_alert_message(AlertDelivery.State.SENT, AlertDelivery.State.DELIVERED)),
    # Confirmed by the app or the provider, or evidently read (answered).
    "delivered": Q(received_at__isnull=False)
    | Q(answered_at__isnull=False)
    | Q(state=Alert.State.DELIVERED)
    | Q(_alert_message(AlertDelivery.State.DELIVERED)),
    # Said yes and still counted: has a role (withdrawal and stand-down take it away).
    "accepted": Q(role__in=ACCEPTED_ROLES),
    # Accepted and reported under way (an AED collected is under way too).
    "on_the_way": Q(state__in=(Alert.State.EN_ROUTE, Alert.State.AED_COLLECTED)),
    "on_scene": Q(state=Alert.State.ON_SCENE),
    # Accepted and still responding now: what the target and the escalation count.
    "responding": Q(state__in=Alert.RESPONDING_STATES),
    "declined": Q(state=Alert.State.DECLINED),
    "expired": Q(state=Alert.State.EXPIRED),
    # No channel reached the volunteer.
    "failed": Q(state=Alert.State.FAILED),
}


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(ALERT_COUNTS, 0)


def accepted_count(*, incident_id: int) -> int:
    """How many of the incident's volunteers have accepted and are still responding."""
    return Alert.objects.filter(ALERT_COUNTS["responding"], incident_id=incident_id).count()


# Responders who reported progress: coming, by their own later word, not only a "yes".
PROGRESS_STATES = (Alert.State.EN_ROUTE, Alert.State.AED_COLLECTED, Alert.State.ON_SCENE)


def confirmed_count(*, incident_id: int, accepted_before: dt.datetime) -> int:
    """How many responders are evidently coming: reported progress, or accepted before
    ``accepted_before`` (the policy's ``release_surplus_after_s`` ago) and still responding.
    What releases the surplus (alerts.services.surplus)."""
    return Alert.objects.filter(
        Q(state__in=PROGRESS_STATES)
        | Q(state__in=Alert.RESPONDING_STATES, answered_at__lte=accepted_before),
        incident_id=incident_id,
    ).count()


def alert_in_incident(*, alert_id: int, incident_id: int) -> bool:
    return Alert.objects.filter(pk=alert_id, incident_id=incident_id).exists()


def incidents_with_alert_counts(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """Annotated with ``alert_counts``: every count of ALERT_COUNTS, one subquery per incident
    in the same query (None for an incident nobody was alerted for: see ``zero_counts``)."""
    per_incident = (
        Alert.objects.filter(incident=OuterRef("pk"))
        .order_by()
        .values("incident")
        .annotate(
            counts=JSONObject(**{key: Count("pk", filter=q) for key, q in ALERT_COUNTS.items()})
        )
        .values("counts")
    )
    return incidents.annotate(alert_counts=Subquery(per_incident, output_field=JSONField()))


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


def incident_alert_rows(*, incident_id: int) -> list[dict[str, Any]]:
    """The incident's alerts as plain rows of the columns the board shows (model instances of
    the alert, volunteer, user and AED cost most of the board's time), nearest first; each
    with ``counted``, the keys of ALERT_COUNTS it counts in.

    Personal data is read only for responders: a name and number for those who accepted, the
    live position for those still responding; a merely alerted volunteer's never leaves the
    database.
    """

    def only_if(condition: Q, expression) -> Case:
        return Case(When(condition, then=expression), default=None)

    accepted, responding = ALERT_COUNTS["accepted"], ALERT_COUNTS["responding"]
    rows = list(
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
            "arrival_estimated_at",
            "role_by_dispatcher",
            aed_name=F("aed__name"),
            first_name=only_if(accepted, F("volunteer__user__first_name")),
            # The number as the stored text (E.164): the model field would parse it.
            phone=only_if(accepted, Cast("volunteer__phone", output_field=CharField())),
            live_location=only_if(responding, F("volunteer__location")),
            live_location_at=only_if(responding, F("volunteer__location_updated_at")),
            alert_location=only_if(responding, F("volunteer_location")),
            **{
                f"in_{key}": ExpressionWrapper(q, output_field=BooleanField())
                for key, q in ALERT_COUNTS.items()
            },
        )
    )
    # Plain dicts: the boolean columns folded into "counted" (the board adds more keys).
    plain: list[dict[str, Any]] = [dict(row) for row in rows]
    for row in plain:
        row["counted"] = [key for key in ALERT_COUNTS if row.pop(f"in_{key}")]
    return plain


def alert_counts(alerts: list[dict[str, Any]]) -> dict[str, int]:
    """The counts of an incident's alerts: the sum of incident_alert_rows' ``counted``."""
    counts = zero_counts()
    for alert in alerts:
        for key in alert["counted"]:
            counts[key] += 1
    return counts
