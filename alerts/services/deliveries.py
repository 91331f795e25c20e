"""The delivery engine: deliveries created, sent in batches, their outcomes recorded (sent,
retried with backoff, failed: a push alert falling back to SMS), and the providers' status
callbacks.

A delivery is sent only while it is pending and its state moves by conditional UPDATE, so a
task run twice sends once. Every statement that moves a delivery after a hand-over also writes
the outcome of its attempt (``AlertDeliveryAttempt``), in the same statement or transaction.
The claim, the hand-over and the provider calls are in ``alerts.services.sending``.
"""

import datetime as dt
import logging
from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone

from alerts.channels.base import (
    OutcomeUnknownError,
    PermanentChannelError,
    TransientChannelError,
    UnregisteredTokenError,
)
from alerts.enqueue import SEND_BATCH, deliveries_send_on_commit
from alerts.models import Alert, AlertDelivery, AlertDeliveryAttempt, DispatchPolicy
from alerts.selectors.policy import incident_policy_lookup
from alerts.services import sending
from alerts.services.sending import Outgoing
from alerts.services.timeline import alert_event, alert_move
from amk.models.incident import Incident, IncidentEvent
from volunteers.models import Device

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 6
MAX_BACKOFF_S = 30

Outcome = AlertDeliveryAttempt.Outcome


# --- Which deliveries an alert gets ------------------------------------------------------------


def deliveries_create(channels_by_alert: dict[int, list[str]], kind: str) -> list[int]:
    """Create the deliveries that do not exist yet; returns those waiting for a first send."""
    AlertDelivery.objects.bulk_create(
        [
            AlertDelivery(alert_id=alert_id, channel=channel, kind=kind)
            for alert_id, channels in channels_by_alert.items()
            for channel in channels
        ],
        ignore_conflicts=True,
    )
    wanted = {(alert_id, c) for alert_id, channels in channels_by_alert.items() for c in channels}
    return [
        pk
        for pk, alert_id, channel in AlertDelivery.objects.filter(
            alert_id__in=channels_by_alert,
            kind=kind,
            state=AlertDelivery.State.PENDING,
            attempts=0,
        ).values_list("pk", "alert_id", "channel")
        if (alert_id, channel) in wanted
    ]


def channels_used(alerts: list[Alert]) -> dict[int, list[str]]:
    """Follow-up messages go on the channels the alert went out on (or is going out on).

    An alert still pending is never sent once the incident has ended or the volunteer was
    released, so nobody is told to stand down from an alert they never got.
    """
    channels: dict[int, list[str]] = {}
    for alert_id, channel in AlertDelivery.objects.filter(
        alert__in=alerts,
        kind=AlertDelivery.Kind.ALERT,
        state__in=[
            AlertDelivery.State.SENDING,
            AlertDelivery.State.SENT,
            AlertDelivery.State.DELIVERED,
        ],
    ).values_list("alert_id", "channel"):
        channels.setdefault(alert_id, []).append(channel)
    return channels


def sms_only(alerts: list[Alert]) -> dict[int, list[str]]:
    return {alert.pk: [AlertDelivery.Channel.SMS] for alert in alerts}


# --- Sending -----------------------------------------------------------------------------------


def _still_relevant(
    delivery: AlertDelivery, *, now: dt.datetime, policy_of: Callable[[Incident], DispatchPolicy]
) -> bool:
    """An alert message for an ended incident, or for an alert answered or expired (also one
    past its validity the sweep has not moved yet), is moot: it is neither sent nor retried.
    The address and role (details) go only to a responder while the incident is open: after
    it has ended the address is revealed to nobody."""
    alert = delivery.alert
    incident = alert.incident
    if alert.volunteer_id is None:
        return False
    if delivery.kind == AlertDelivery.Kind.ALERT:
        return (
            incident.is_open
            and alert.state in Alert.WAITING_STATES
            and not alert.is_expired(valid_s=policy_of(incident).alert_valid_s, now=now)
        )
    if delivery.kind in (AlertDelivery.Kind.DETAILS, AlertDelivery.Kind.ROLE):
        return incident.is_open and alert.state in Alert.RESPONDING_STATES
    return True


def _retry_in(delivery: AlertDelivery) -> int | None:
    """Backoff before the next attempt, or None to give up.

    An alert by SMS, the channel of last resort, keeps trying while it still matters (the
    incident open, the volunteer not yet answered); everything else gives up after
    MAX_SEND_ATTEMPTS, a push alert by falling back to SMS.
    """
    last_resort = (
        delivery.kind == AlertDelivery.Kind.ALERT and delivery.channel == AlertDelivery.Channel.SMS
    )
    if not last_resort and delivery.attempts >= MAX_SEND_ATTEMPTS:
        return None
    return min(2**delivery.attempts, MAX_BACKOFF_S)


def deliveries_send(*, delivery_ids: list[int]) -> dict[int, int]:
    """Send the deliveries that are due, together; a single retry is the batch of one.

    Returns the seconds until a retry is due for each delivery that needs one.
    """
    retries: dict[int, int] = {}
    for start in range(0, len(delivery_ids), SEND_BATCH):
        retries |= _batch_send(delivery_ids[start : start + SEND_BATCH])
    return retries


def _batch_send(delivery_ids: list[int]) -> dict[int, int]:
    claimed_at, deliveries = sending.deliveries_claim(delivery_ids)
    policy_of = incident_policy_lookup()
    moot = [d.pk for d in deliveries if not _still_relevant(d, now=claimed_at, policy_of=policy_of)]
    if moot:
        AlertDelivery.objects.filter(pk__in=moot).update(
            state=AlertDelivery.State.FAILED,
            last_error="no longer relevant",
            updated_at=timezone.now(),
        )
    outgoing = sending.messages_build(
        [d for d in deliveries if d.pk not in moot], policy_of=policy_of
    )
    ready = [item for item in outgoing if item.outcome is None]
    if ready:
        sending.hand_over_and_send(ready, claimed_at=claimed_at)
    _deliveries_sent([item for item in outgoing if isinstance(item.outcome, str)])
    retries = {}
    for item in outgoing:
        delivery, outcome = item.delivery, item.outcome
        retry_in = None
        if isinstance(outcome, UnregisteredTokenError) and item.device_id is not None:
            # The install is gone: every account's device with its token.
            token = getattr(item.message, "token", None)
            Device.objects.filter(push_token=token).update(is_active=False)
        if isinstance(outcome, OutcomeUnknownError):
            # A push is simply sent again (its collapse id keeps it one notification on the
            # phone); an SMS is looked up in Twilio's log first.
            retry_in = _delivery_retry(item, outcome_unknown=True)
        elif isinstance(outcome, TransientChannelError):
            retry_in = _delivery_retry(item)
        elif isinstance(outcome, PermanentChannelError):
            _delivery_failed(delivery, str(outcome), attempt=item)
        elif isinstance(outcome, Exception):
            # Not a provider's answer we know: left "sending" (its attempt awaiting the
            # provider), it is taken over after its lease as an outcome unknown, like the send
            # of a worker that died.
            logger.error(
                "Sending delivery %s failed",
                delivery.pk,
                exc_info=outcome,
                extra={"alert_id": delivery.alert_id},  # the log line's alert (config.logs)
            )
        if retry_in is not None:
            retries[delivery.pk] = retry_in
    return retries


_SENT_SQL = """
    WITH sent AS (
        SELECT * FROM unnest(
            %(ids)s::bigint[], %(attempt_ids)s::bigint[], %(provider_ids)s::varchar[],
            %(outcomes)s::varchar[], %(finished)s::timestamptz[], %(durations)s::integer[]
        ) AS s (id, attempt_id, provider_message_id, outcome, finished_at, duration_ms)
    ), attempts AS (
        UPDATE {attempts} AS a SET outcome = s.outcome,
            provider_message_id = s.provider_message_id, finished_at = s.finished_at,
            duration_ms = s.duration_ms
        FROM sent AS s WHERE a.id = s.attempt_id
    )
    UPDATE {deliveries} AS d SET state = %(state)s, provider_message_id = s.provider_message_id,
        last_error = '', sent_at = %(now)s, updated_at = %(now)s
    FROM sent AS s WHERE d.id = s.id
"""


def _deliveries_sent(sent: list[Outgoing]) -> None:
    """Record the provider ids on the deliveries and their attempts (one statement); alerts now
    on their way move to "sent", on the timeline.

    The incidents are locked first (the order every workflow keeps: incident, then its
    alerts), so this never deadlocks with an answer or a stand-down of the same incident.
    """
    if not sent:
        return
    now = timezone.now()
    deliveries = []
    for item in sent:
        delivery = item.delivery
        delivery.state, delivery.provider_message_id = AlertDelivery.State.SENT, str(item.outcome)
        delivery.last_error, delivery.sent_at, delivery.updated_at = "", now, now
        deliveries.append(delivery)
    alerts = {d.alert_id: d.alert for d in deliveries if d.kind == AlertDelivery.Kind.ALERT}
    with transaction.atomic():
        list(
            Incident.objects.select_for_update(no_key=True)
            .filter(pk__in={d.alert.incident_id for d in deliveries})
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                _SENT_SQL.format(
                    deliveries=connection.ops.quote_name(AlertDelivery._meta.db_table),
                    attempts=connection.ops.quote_name(AlertDeliveryAttempt._meta.db_table),
                ),
                {
                    "ids": [item.delivery.pk for item in sent],
                    "attempt_ids": [item.attempt_id for item in sent],
                    "provider_ids": [item.outcome for item in sent],
                    "outcomes": [item.attempt_outcome for item in sent],
                    "finished": [item.finished_at for item in sent],
                    "durations": [item.duration_ms for item in sent],
                    "state": AlertDelivery.State.SENT,
                    "now": now,
                },
            )
        queued = list(
            Alert.objects.select_for_update(of=("self",))
            .filter(pk__in=alerts, state=Alert.State.QUEUED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if queued:
            Alert.objects.filter(pk__in=queued).update(state=Alert.State.SENT, updated_at=now)
            for pk in queued:
                alerts[pk].state = Alert.State.SENT
            IncidentEvent.objects.bulk_create(
                [alert_event(alerts[pk], Alert.State.SENT) for pk in queued]
            )


def _attempt_finish(item: Outgoing) -> None:
    """The outcome of one failed hand-over on its attempt row (in the caller's transaction)."""
    if item.attempt_id is None:
        return
    AlertDeliveryAttempt.objects.filter(pk=item.attempt_id).update(
        outcome=item.attempt_outcome,
        error=str(item.outcome)[:1000],
        finished_at=item.finished_at,
        duration_ms=item.duration_ms,
    )


def _delivery_retry(item: Outgoing, *, outcome_unknown: bool = False) -> int | None:
    delivery, error = item.delivery, item.outcome
    retry_in = _retry_in(delivery)
    if retry_in is None:
        _delivery_failed(
            delivery, f"gave up after {delivery.attempts} attempts: {error}", attempt=item
        )
        return None
    now = timezone.now()
    fields: dict[str, object] = {"handed_over_at": None}
    if outcome_unknown and delivery.outcome_unknown_since is None:
        fields["outcome_unknown_since"] = now
    with transaction.atomic():
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            state=AlertDelivery.State.PENDING,
            last_error=str(error)[:1000],
            next_attempt_at=now + dt.timedelta(seconds=retry_in),
            updated_at=now,
            **fields,
        )
        _attempt_finish(item)
    return retry_in


@transaction.atomic
def _delivery_failed(
    delivery: AlertDelivery, reason: str, *, attempt: Outgoing | None = None
) -> None:
    """Mark it failed; an alert whose push failed goes by SMS, one with no channel left fails."""
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        state=AlertDelivery.State.FAILED, last_error=reason[:1000], updated_at=timezone.now()
    )
    if attempt is not None:
        _attempt_finish(attempt)
    alert = delivery.alert
    if delivery.kind != AlertDelivery.Kind.ALERT:
        return
    if delivery.channel == AlertDelivery.Channel.PUSH:
        deliveries_send_on_commit(
            delivery_ids=deliveries_create(sms_only([alert]), AlertDelivery.Kind.ALERT)
        )
    if (
        not AlertDelivery.objects.filter(alert=alert, kind=delivery.kind)
        .exclude(state=AlertDelivery.State.FAILED)
        .exists()
    ):
        alert_move(alert, Alert.State.FAILED, from_states=[Alert.State.QUEUED, Alert.State.SENT])


# --- The providers' status callbacks -----------------------------------------------------------

TWILIO_DELIVERED = {"delivered"}
TWILIO_FAILED = {"failed", "undelivered"}


def delivery_status_update(*, provider_message_id: str, status: str, error: str = "") -> bool:
    """Apply a provider's status callback; a replay changes nothing the second time."""
    now = timezone.now()
    deliveries = AlertDelivery.objects.filter(
        provider_message_id=provider_message_id, state=AlertDelivery.State.SENT
    )
    if status in TWILIO_DELIVERED:
        alert_ids = list(deliveries.values_list("alert_id", flat=True))
        changed = deliveries.update(
            state=AlertDelivery.State.DELIVERED, delivered_at=now, updated_at=now
        )
        for alert in Alert.objects.filter(pk__in=alert_ids):
            alert_move(
                alert, Alert.State.DELIVERED, from_states=[Alert.State.QUEUED, Alert.State.SENT]
            )
        return bool(changed)
    if status in TWILIO_FAILED:
        delivery = deliveries.select_related("alert").first()
        if delivery is None:
            return False
        _delivery_failed(delivery, f"provider reported {status} {error}".strip())
        return True
    return False
