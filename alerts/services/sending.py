"""The hand-over to the providers, the middle of the delivery engine: deliveries claimed (with
their lease), their messages built in a few queries for the whole batch, the hand-over recorded
together with one attempt row per delivery (one statement), and the providers called, one
thread per delivery of a batch. What comes of each call is left on its ``Outgoing`` for
``alerts.services.deliveries`` to record.
"""

import datetime as dt
import functools
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, models
from django.db.models import Exists, F, OuterRef
from django.urls import reverse
from django.utils import timezone

from alerts.channels.base import (
    OutcomeUnknownError,
    PermanentChannelError,
    PushBackend,
    PushMessage,
    SmsBackend,
    SmsMessage,
    TransientChannelError,
    get_push_backend,
    get_sms_backend,
)
from alerts.enqueue import SEND_BATCH
from alerts.messages import message_texts, neutral_push_texts
from alerts.models import Alert, AlertDelivery, AlertDeliveryAttempt, DispatchPolicy
from alerts.selectors.policy import incident_policy_lookup
from amk.models.incident import Incident
from volunteers.models import Device

# A message the provider may have taken is looked up from a little before the first try.
RECONCILE_MARGIN = dt.timedelta(minutes=1)

Outcome = AlertDeliveryAttempt.Outcome


def sending_lease() -> dt.timedelta:
    """How long a claimed delivery is left to its sender before another may take it over:
    longer than any provider call may last, so a live sender is never doubled."""
    provider_timeout_s = max(settings.TWILIO_TIMEOUT_S, settings.FCM_TIMEOUT_S)
    return dt.timedelta(seconds=provider_timeout_s + 5)


def claim_update_sql(table: str) -> str:
    """The conditional UPDATE that claims an outbox table's rows for sending, returning their
    ids: pending ones that are due, and those whose sender vanished mid-send (their lease ran
    out: from then on an outcome unknown). Rows are locked in id order, so two senders given
    overlapping batches never deadlock. Parameters: ids, now, expired, pending, sending."""
    return f"""
        UPDATE {table} AS o SET
            state = %(sending)s,
            attempts = o.attempts + 1,
            outcome_unknown_since = CASE WHEN o.state = %(sending)s
                THEN COALESCE(o.outcome_unknown_since, o.handed_over_at)
                ELSE o.outcome_unknown_since END,
            updated_at = %(now)s
        WHERE o.id IN (
            SELECT id FROM {table}
            WHERE id = ANY(%(ids)s)
              AND ((state = %(pending)s AND next_attempt_at <= %(now)s)
                   OR (state = %(sending)s AND updated_at < %(expired)s))
            ORDER BY id
            FOR UPDATE
        )
        RETURNING o.id
    """  # noqa: S608  the table name is the model's own; values are parameters


def outbox_claim(
    *, model: type[models.Model], ids: Iterable[int], lease: dt.timedelta
) -> list[int]:
    """Claim an outbox table's due rows for sending (claim_update_sql): the ids claimed."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            claim_update_sql(connection.ops.quote_name(model._meta.db_table)),
            {
                "ids": list(ids),
                "now": now,
                "expired": now - lease,
                "pending": "pending",
                "sending": "sending",
            },
        )
        return [row[0] for row in cursor.fetchall()]


_CLAIM_SQL = """
    WITH claimed AS ({claim}), lost AS (
        UPDATE {attempts} SET outcome = %(unknown)s, error = %(lost)s
        WHERE delivery_id IN (SELECT id FROM claimed) AND outcome = %(in_flight)s
    )
    SELECT id FROM claimed
"""


def deliveries_claim(delivery_ids: list[int]) -> tuple[dt.datetime, list[AlertDelivery]]:
    """Take deliveries for sending, atomically per row: pending ones that are due, and those
    whose sender vanished mid-send (their lease ran out). Returns the claim's time with them.

    A take-over from a sender that had handed the message over is an outcome unknown: the
    provider may have taken it before the sender lost its worker or its database; its attempt
    row, still awaiting the provider, says so from here on. A row another sender claimed
    meanwhile is re-checked and left to it (claim_update_sql).
    """
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL.format(
                claim=claim_update_sql(connection.ops.quote_name(AlertDelivery._meta.db_table)),
                attempts=connection.ops.quote_name(AlertDeliveryAttempt._meta.db_table),
            ),
            {
                "ids": list(delivery_ids),
                "now": now,
                "expired": now - sending_lease(),
                "pending": AlertDelivery.State.PENDING,
                "sending": AlertDelivery.State.SENDING,
                "unknown": Outcome.OUTCOME_UNKNOWN,
                "in_flight": Outcome.IN_FLIGHT,
                "lost": "no answer recorded: the sender was lost after the hand-over",
            },
        )
        claimed = [row[0] for row in cursor.fetchall()]
    if not claimed:
        return now, []
    return now, list(
        AlertDelivery.objects.select_related(
            "alert__incident__municipality", "alert__volunteer", "alert__aed"
        )
        .filter(pk__in=claimed)
        .order_by("pk")
    )


@dataclass
class Outgoing:
    """One claimed delivery on its way: the message, what the provider call needs, and what
    came of it (for the delivery and for its attempt row)."""

    delivery: AlertDelivery
    message: SmsMessage | PushMessage | None = None
    device_id: int | None = None
    # An SMS whose last attempt may have reached Twilio: looked up in its log before sending.
    reconcile: bool = False
    outcome: str | Exception | None = None
    # The attempt row written at the hand-over, and the call's end.
    attempt_id: int | None = None
    found_in_log: bool = False
    finished_at: dt.datetime | None = None
    duration_ms: int | None = None

    @property
    def attempt_outcome(self) -> str:
        """What the attempt row records; an exception we do not know leaves it in flight."""
        outcome = self.outcome
        if isinstance(outcome, str):
            return Outcome.RECONCILED if self.found_in_log else Outcome.SENT
        if isinstance(outcome, OutcomeUnknownError):
            return Outcome.OUTCOME_UNKNOWN
        if isinstance(outcome, TransientChannelError):
            return Outcome.TRANSIENT_ERROR
        if isinstance(outcome, PermanentChannelError):
            return Outcome.PERMANENT_ERROR
        return Outcome.IN_FLIGHT


def _status_callback_url() -> str | None:
    base = settings.PUBLIC_BASE_URL
    return f"{base.rstrip('/')}{reverse('twilio-status')}" if base else None


def _alert_sms_validity(alert: Alert, policy: DispatchPolicy, now: dt.datetime) -> int:
    """The policy's SMS validity, cut to what is left of the alert's own."""
    left_s = (alert.created_at - now).total_seconds() + policy.alert_valid_s
    return max(1, min(policy.sms_validity_s, int(left_s)))


def messages_build(
    deliveries: list[AlertDelivery],
    *,
    policy_of: Callable[[Incident], DispatchPolicy] | None = None,
) -> list[Outgoing]:
    """Build every message in a few queries; one that cannot be built fails permanently.

    An alert SMS is valid at the provider for its incident's ``sms_validity_s``, and never past
    the moment its alert expires: a phone that was off does not get an alert it can no longer
    accept.
    """
    policy_of = policy_of or incident_policy_lookup()
    now = timezone.now()
    pushes = [d for d in deliveries if d.channel == AlertDelivery.Channel.PUSH]
    # Each volunteer's most recently seen device (no query at all for a batch without push).
    # Whether another account's active device holds the same token (volunteers.services.devices)
    # comes in the same query.
    devices = {
        volunteer_id: (pk, token, shared)
        for pk, volunteer_id, token, shared in Device.objects.filter(
            volunteer_id__in={d.alert.volunteer_id for d in pushes}, is_active=True
        )
        .annotate(
            shared=Exists(
                Device.objects.filter(push_token=OuterRef("push_token"), is_active=True).exclude(
                    volunteer_id=OuterRef("volunteer_id")
                )
            )
        )
        .order_by("volunteer_id", F("last_seen_at").desc(nulls_last=True), "-pk")
        .distinct("volunteer_id")
        .values_list("pk", "volunteer_id", "push_token", "shared")
    }
    callback_url = _status_callback_url()
    outgoing = []
    for delivery in deliveries:
        item = Outgoing(delivery)
        title, body = message_texts(delivery)
        alert = delivery.alert
        try:
            if delivery.channel == AlertDelivery.Channel.SMS:
                if alert.volunteer is None:  # erased: _still_relevant made it moot already
                    raise PermanentChannelError("no volunteer")
                item.message = SmsMessage(
                    to=str(alert.volunteer.phone),
                    body=body,
                    validity_s=(
                        _alert_sms_validity(alert, policy_of(alert.incident), now)
                        if delivery.kind == AlertDelivery.Kind.ALERT
                        else None
                    ),
                    status_callback_url=callback_url,
                )
                item.reconcile = delivery.outcome_unknown_since is not None
            elif alert.volunteer_id not in devices:
                raise PermanentChannelError("no active device")
            else:
                item.device_id, token, shared = devices[alert.volunteer_id]
                # Sent again after a lost answer or a lost sender, it replaces the first on
                # the phone.
                collapse_id = f"alert-{alert.pk}-{delivery.kind}"
                if shared:
                    # The phone may be in another account's hands: nothing personal in the
                    # notification (the app shows what its own session may read), and one
                    # notification per incident and kind for all the accounts on it.
                    title, body = neutral_push_texts()
                    collapse_id = f"incident-{alert.incident_id}-{delivery.kind}"
                item.message = PushMessage(
                    token=token,
                    title=title,
                    body=body,
                    data={
                        "alert_id": str(alert.pk),
                        "incident_id": str(alert.incident_id),
                        "kind": delivery.kind,
                    },
                    ttl_s=300,
                    collapse_id=collapse_id,
                )
        except PermanentChannelError as error:
            item.outcome = error
        outgoing.append(item)
    return outgoing


_HAND_OVER_SQL = """
    WITH handed AS (
        UPDATE {deliveries} SET handed_over_at = %(now)s
        WHERE id = ANY(%(ids)s)
        RETURNING id, attempts
    )
    INSERT INTO {attempts}
        (delivery_id, number, claimed_at, handed_over_at, outcome, provider_message_id, error)
    SELECT id, attempts, %(claimed_at)s, %(now)s, %(in_flight)s, '', '' FROM handed
    ON CONFLICT (delivery_id, number) DO NOTHING
    RETURNING id, delivery_id
"""


def hand_over(outgoing: list[Outgoing], *, claimed_at: dt.datetime) -> None:
    """Record, right before calling the provider, that the messages may leave from here on,
    and open one attempt row per delivery, in one statement.

    A sender that vanishes before this point never reached the provider and its deliveries
    are simply sent by whoever takes them over; after it, the outcome is unknown.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _HAND_OVER_SQL.format(
                deliveries=connection.ops.quote_name(AlertDelivery._meta.db_table),
                attempts=connection.ops.quote_name(AlertDeliveryAttempt._meta.db_table),
            ),
            {
                "ids": [item.delivery.pk for item in outgoing],
                "now": timezone.now(),
                "claimed_at": claimed_at,
                "in_flight": Outcome.IN_FLIGHT,
            },
        )
        # A number already recorded (never expected: each claim counts one up) is skipped
        # rather than holding up the alert.
        attempt_ids = {delivery_id: pk for pk, delivery_id in cursor.fetchall()}
    for item in outgoing:
        item.attempt_id = attempt_ids.get(item.delivery.pk)


def _deliver(item: Outgoing, sms: SmsBackend, push: PushBackend) -> None:
    """The provider call, and nothing else (it may run in a pool thread: no database here)."""
    message = item.message
    started = time.monotonic()
    try:
        if isinstance(message, PushMessage):
            item.outcome = push.send(message)
            return
        if message is None:  # not built: its outcome is set already
            return
        unknown_since = item.delivery.outcome_unknown_since
        if item.reconcile and unknown_since is not None:
            # The last attempt may have reached Twilio: look before sending it again. Only this
            # delivery's message has its text (alerts.messages: the SMS names its alert).
            item.outcome = sms.find_sent(message, since=unknown_since - RECONCILE_MARGIN)
            if item.outcome:
                item.found_in_log = True
                return
        item.outcome = sms.send(message)
    except Exception as error:  # sorted by the caller, so one failure leaves the others alone
        item.outcome = error
    finally:
        item.duration_ms = round((time.monotonic() - started) * 1000)
        item.finished_at = timezone.now()


_pools = threading.local()


def _send_pool() -> ThreadPoolExecutor:
    """The calling thread's own pool, one thread per delivery of a batch: batches sent at the
    same moment from other threads (a worker with a thread pool) never queue behind it."""
    pool = getattr(_pools, "executor", None)
    if pool is None:
        pool = _pools.executor = ThreadPoolExecutor(
            max_workers=SEND_BATCH, thread_name_prefix="send"
        )
    return pool


def _forget_pools() -> None:
    """A forked child (a prefork worker process) has none of its parent's threads."""
    global _pools  # noqa: PLW0603  fork reset of the thread-local pools
    _pools = threading.local()


os.register_at_fork(after_in_child=_forget_pools)


def hand_over_and_send(ready: list[Outgoing], *, claimed_at: dt.datetime) -> None:
    """Hand every message to its provider at once; each outcome lands on its item."""
    sms, push = get_sms_backend(), get_push_backend()
    hand_over(ready, claimed_at=claimed_at)
    # The providers' clients are thread-safe (one thread per message of the batch); a backend
    # that is not (the outbox writes to the database) sends one after another.
    concurrent = len(ready) > 1 and all(getattr(b, "thread_safe", False) for b in (sms, push))
    run = _send_pool().map if concurrent else map
    for _ in run(functools.partial(_deliver, sms=sms, push=push), ready):
        pass
