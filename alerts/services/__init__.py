"""Dispatch workflows: waves of alerts, sending, answers, release and stand-down.

Every function here is safe to run twice: alerts are unique per (incident, volunteer),
deliveries per (alert, channel, kind), and state moves by conditional UPDATE. Work for the
workers is queued only after the transaction that created it commits.
"""

import datetime as dt
import functools
import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alerts import selectors
from alerts.channels.base import (
    OutcomeUnknownError,
    PermanentChannelError,
    PushBackend,
    PushMessage,
    SmsBackend,
    SmsMessage,
    TransientChannelError,
    UnregisteredTokenError,
    get_push_backend,
    get_sms_backend,
)
from alerts.messages import kilometres, message_texts
from alerts.models import Alert, AlertDelivery, DispatchPolicy
from amk.models.incident import Incident, IncidentEvent
from amk.services.incidents import incident_event_add, incident_transition, incident_wave_record
from config.exceptions import ApplicationError
from volunteers.models import Device, Volunteer

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 6
MAX_BACKOFF_S = 30
# A message the provider may have taken is looked up from a little before the first try.
RECONCILE_MARGIN = dt.timedelta(minutes=1)

# A batch is claimed and handed over at once, so every message in it must leave at once: a
# message still queued behind others in the pool could outlive its lease and be taken over and
# sent twice. Hence one thread per delivery of a batch, and batches no larger than that.
SEND_BATCH = 32


def _sending_lease() -> dt.timedelta:
    """How long a claimed delivery is left to its sender before another may take it over:
    longer than any provider call may last, so a live sender is never doubled."""
    provider_timeout_s = max(settings.TWILIO_TIMEOUT_S, settings.FCM_TIMEOUT_S)
    return dt.timedelta(seconds=provider_timeout_s + 5)


def _enqueue_sends(delivery_ids: list[int]) -> None:
    """Queue the sends, in batches, once the rows that describe them are committed."""
    if not delivery_ids:
        return

    # robust: a broker outage must not undo or fail the caller; the sweep re-queues the rows.
    transaction.on_commit(lambda: _queue_batches(delivery_ids), robust=True)


def _queue_batches(delivery_ids: list[int]) -> None:
    from alerts.tasks import deliveries_send_task

    for start in range(0, len(delivery_ids), SEND_BATCH):
        deliveries_send_task.delay(delivery_ids[start : start + SEND_BATCH])


def _event(incident_id: int, kind: str, message: str, *, alert_id=None, actor=None) -> None:
    incident_event_add(
        incident_id=incident_id, alert_id=alert_id, actor=actor, kind=kind, message=message
    )


def _alert_move(alert: Alert, to_state: str, *, from_states, actor=None, **fields) -> bool:
    """Move an alert's state if it is still in one of from_states; record it on the timeline."""
    moved = Alert.objects.filter(pk=alert.pk, state__in=from_states).update(
        state=to_state, updated_at=timezone.now(), **fields
    )
    if moved:
        alert.state = to_state
        for name, value in fields.items():
            setattr(alert, name, value)
        _alert_event(alert, to_state, actor=actor).save()
    return bool(moved)


def _alert_event(alert: Alert, to_state: str, *, actor=None) -> IncidentEvent:
    """The timeline entry of an alert's move, unsaved (batches save theirs together)."""
    return IncidentEvent(
        incident_id=alert.incident_id,
        alert_id=alert.pk,
        actor=actor,
        kind=IncidentEvent.Kind.for_alert_state(to_state),
        message=_("%(volunteer)s: %(state)s")
        % {"volunteer": _volunteer_label(alert), "state": Alert.State(to_state).label},
    )


def _volunteer_label(alert: Alert) -> str:
    return _("Volunteer #%(id)s") % {"id": alert.volunteer_id or "–"}


def _deliveries_create(channels_by_alert: dict[int, list[str]], kind: str) -> list[int]:
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


def _alert_channels(alerts: list[Alert]) -> dict[int, list[str]]:
    """Push where the app can receive it; SMS for the corps and for those without the app."""
    with_device = set(
        Device.objects.filter(volunteer__in=[a.volunteer_id for a in alerts], is_active=True)
        .values_list("volunteer_id", flat=True)
        .distinct()
    )
    channels: dict[int, list[str]] = {}
    for alert in alerts:
        has_push = alert.volunteer_id in with_device
        channels[alert.pk] = [AlertDelivery.Channel.PUSH] if has_push else []
        if alert.pool == Alert.Pool.CORPS or not has_push:
            channels[alert.pk].append(AlertDelivery.Channel.SMS)
    return channels


def _channels_used(alerts: list[Alert]) -> dict[int, list[str]]:
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


def _sms_only(alerts: list[Alert]) -> dict[int, list[str]]:
    return {alert.pk: [AlertDelivery.Channel.SMS] for alert in alerts}


def _send_wave(
    incident: Incident, policy: DispatchPolicy, *, wave: int, radius_m: int
) -> list[int]:
    """Alert the wave's candidates; returns the deliveries to send once this commits."""
    candidates = selectors.dispatch_candidates(
        incident_id=incident.pk,
        point=incident.location,
        policy=policy,
        radius_m=radius_m,
        include_corps=wave == 1,
    )
    alerts = Alert.objects.bulk_create(
        [
            Alert(
                incident=incident,
                volunteer_id=c.volunteer_id,
                pool=c.pool,
                wave=wave,
                distance_m=c.distance_m,
                volunteer_location=c.location,
            )
            for c in candidates
        ]
    )
    delivery_ids = _deliveries_create(_alert_channels(alerts), AlertDelivery.Kind.ALERT)
    incident_wave_record(incident_id=incident.pk, wave=wave, radius_m=radius_m)
    corps = sum(1 for c in candidates if c.pool == Alert.Pool.CORPS)
    _event(
        incident.pk,
        IncidentEvent.Kind.WAVE,
        ngettext(
            "Wave %(wave)d: %(n)d volunteer alerted within %(km)s km (%(corps)d from the corps)",
            "Wave %(wave)d: %(n)d volunteers alerted within %(km)s km (%(corps)d from the corps)",
            len(candidates),
        )
        % {"wave": wave, "n": len(candidates), "km": kilometres(radius_m), "corps": corps},
    )
    from alerts.tasks import alerts_sms_fallback_task, incident_escalate_task

    transaction.on_commit(
        lambda: (
            alerts_sms_fallback_task.apply_async(
                (incident.pk,), countdown=policy.push_receipt_timeout_s
            ),
            incident_escalate_task.apply_async(
                (incident.pk, wave), countdown=policy.escalate_after_s
            ),
        ),
        robust=True,
    )
    return delivery_ids


@transaction.atomic
def incident_dispatch(*, incident_id: int) -> list[int]:
    """Alert the first wave for an incident still pending dispatch (the outbox).

    Returns the wave's deliveries for the caller (the dispatch task) to send as soon as this
    has committed, from the same process: one queue hop fewer on the way to the first alerts.
    Should it die first, the sweep sends them.
    """
    incident = Incident.objects.select_for_update(no_key=True).filter(pk=incident_id).first()
    if incident is None or incident.state != Incident.State.PENDING_DISPATCH:
        return []
    if incident.exclusion_reasons:
        incident_transition(incident_id=incident_id, to_state=Incident.State.ACTIVE)
        return []
    policy = selectors.dispatch_policy_current()
    incident_transition(incident_id=incident_id, to_state=Incident.State.DISPATCHING)
    return _send_wave(incident, policy, wave=1, radius_m=policy.radius_m)


@transaction.atomic
def incident_escalate(*, incident_id: int, after_wave: int | None = None, actor=None) -> bool:
    """Send the next wave, wider, if too few have accepted; once per wave.

    The periodic check passes the wave it was scheduled after, so a late or repeated check
    does nothing. The dispatcher's "next wave now" passes none and always sends one, also
    after the target was reached (responders may have dropped out), but never for an
    incident where volunteers were deliberately not activated.
    """
    incident = Incident.objects.select_for_update(no_key=True).filter(pk=incident_id).first()
    if incident is None:
        return False
    requested = actor is not None
    recruiting = incident.state == Incident.State.DISPATCHING or (
        requested and incident.state == Incident.State.ACTIVE and not incident.exclusion_reasons
    )
    if not recruiting:
        return False
    policy = selectors.dispatch_policy_current()
    if not requested:
        if after_wave is not None and incident.dispatch_wave != after_wave:
            return False
        if incident.dispatch_wave >= policy.max_waves:
            return False
        if _accepted_count(incident_id) >= policy.target_accepted:
            return False
    radius_m = min(
        (incident.dispatch_radius_m or policy.radius_m) + policy.radius_step_m,
        policy.max_radius_m,
    )
    if requested:
        _event(
            incident_id, IncidentEvent.Kind.WAVE_REQUESTED, _("Next wave requested"), actor=actor
        )
        incident_transition(incident_id=incident_id, to_state=Incident.State.DISPATCHING)
    _enqueue_sends(_send_wave(incident, policy, wave=incident.dispatch_wave + 1, radius_m=radius_m))
    return True


def _accepted_count(incident_id: int) -> int:
    return Alert.objects.filter(incident_id=incident_id, state__in=Alert.RESPONDING_STATES).count()


_CLAIM_SQL = """
    UPDATE {table} AS d SET
        state = %(sending)s,
        attempts = d.attempts + 1,
        outcome_unknown_since = CASE WHEN d.state = %(sending)s
            THEN COALESCE(d.outcome_unknown_since, d.handed_over_at)
            ELSE d.outcome_unknown_since END,
        updated_at = %(now)s
    WHERE d.id IN (
        SELECT id FROM {table}
        WHERE id = ANY(%(ids)s)
          AND ((state = %(pending)s AND next_attempt_at <= %(now)s)
               OR (state = %(sending)s AND updated_at < %(expired)s))
        ORDER BY id
        FOR UPDATE
    )
    RETURNING d.id
"""


def _deliveries_claim(delivery_ids: list[int]) -> list[AlertDelivery]:
    """Take deliveries for sending, atomically per row: pending ones that are due, and those
    whose sender vanished mid-send (their lease ran out).

    A take-over from a sender that had handed the message over is an outcome unknown: the
    provider may have taken it before the sender lost its worker or its database. Rows are
    locked in id order, so two senders given overlapping batches never deadlock, and a row
    another sender claimed meanwhile is re-checked and left to it.
    """
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL.format(table=connection.ops.quote_name(AlertDelivery._meta.db_table)),
            {
                "ids": list(delivery_ids),
                "now": now,
                "expired": now - _sending_lease(),
                "pending": AlertDelivery.State.PENDING,
                "sending": AlertDelivery.State.SENDING,
            },
        )
        claimed = [row[0] for row in cursor.fetchall()]
    if not claimed:
        return []
    return list(
        AlertDelivery.objects.select_related(
            "alert__incident__municipality", "alert__volunteer", "alert__aed"
        )
        .filter(pk__in=claimed)
        .order_by("pk")
    )


def _still_relevant(delivery: AlertDelivery) -> bool:
    """An alert or details message for an ended incident, or an answered alert, is moot."""
    alert = delivery.alert
    if alert.volunteer_id is None:
        return False
    if delivery.kind == AlertDelivery.Kind.ALERT:
        return alert.incident.is_open and alert.state in Alert.WAITING_STATES
    if delivery.kind == AlertDelivery.Kind.DETAILS:
        return alert.incident.is_open and alert.state in Alert.RESPONDING_STATES
    return True


def _status_callback_url() -> str | None:
    base = settings.PUBLIC_BASE_URL
    return f"{base.rstrip('/')}{reverse('twilio-status')}" if base else None


@dataclass
class _Outgoing:
    """One claimed delivery on its way: the message, and what the provider call needs."""

    delivery: AlertDelivery
    message: SmsMessage | PushMessage | None = None
    device_id: int | None = None
    # An SMS whose last attempt may have reached Twilio: looked up in its log before sending.
    reconcile: bool = False
    outcome: str | Exception | None = None


def _outgoing(deliveries: list[AlertDelivery]) -> list[_Outgoing]:
    """Build every message in a few queries; one that cannot be built fails permanently."""
    pushes = [d for d in deliveries if d.channel == AlertDelivery.Channel.PUSH]
    # Each volunteer's most recently seen device (no query at all for a batch without push).
    devices = {
        volunteer_id: (pk, token)
        for pk, volunteer_id, token in Device.objects.filter(
            volunteer_id__in={d.alert.volunteer_id for d in pushes}, is_active=True
        )
        .order_by("volunteer_id", F("last_seen_at").desc(nulls_last=True), "-pk")
        .distinct("volunteer_id")
        .values_list("pk", "volunteer_id", "push_token")
    }
    sms_alert = any(
        d.channel == AlertDelivery.Channel.SMS and d.kind == AlertDelivery.Kind.ALERT
        for d in deliveries
    )
    validity = selectors.dispatch_policy_current().sms_validity_s if sms_alert else None
    callback_url = _status_callback_url()
    outgoing = []
    for delivery in deliveries:
        item = _Outgoing(delivery)
        title, body = message_texts(delivery)
        alert = delivery.alert
        try:
            if delivery.channel == AlertDelivery.Channel.SMS:
                if alert.volunteer is None:  # erased: _still_relevant made it moot already
                    raise PermanentChannelError("no volunteer")
                item.message = SmsMessage(
                    to=str(alert.volunteer.phone),
                    body=body,
                    validity_s=validity if delivery.kind == AlertDelivery.Kind.ALERT else None,
                    status_callback_url=callback_url,
                )
                item.reconcile = delivery.outcome_unknown_since is not None
            elif alert.volunteer_id not in devices:
                raise PermanentChannelError("no active device")
            else:
                item.device_id, token = devices[alert.volunteer_id]
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
                    # Sent again after a lost answer or a lost sender, it replaces the first
                    # on the phone.
                    collapse_id=f"alert-{alert.pk}-{delivery.kind}",
                )
        except PermanentChannelError as error:
            item.outcome = error
        outgoing.append(item)
    return outgoing


def _deliver(item: _Outgoing, sms: SmsBackend, push: PushBackend) -> None:
    """The provider call, and nothing else (it may run in a pool thread: no database here)."""
    message = item.message
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
                return
        item.outcome = sms.send(message)
    except Exception as error:  # sorted by the caller, so one failure leaves the others alone
        item.outcome = error


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
    global _pools
    _pools = threading.local()


os.register_at_fork(after_in_child=_forget_pools)


def _hand_over(outgoing: list[_Outgoing]) -> None:
    """Record, right before calling the provider, that the messages may leave from here on.

    A sender that vanishes before this point never reached the provider and its deliveries
    are simply sent by whoever takes them over; after it, the outcome is unknown.
    """
    AlertDelivery.objects.filter(pk__in=[item.delivery.pk for item in outgoing]).update(
        handed_over_at=timezone.now()
    )


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


def delivery_send(*, delivery_id: int) -> int | None:
    """Send one delivery once. Returns seconds until a retry is due, or None when done."""
    return deliveries_send(delivery_ids=[delivery_id]).get(delivery_id)


def _batch_send(delivery_ids: list[int]) -> dict[int, int]:
    deliveries = _deliveries_claim(delivery_ids)
    moot = [d.pk for d in deliveries if not _still_relevant(d)]
    if moot:
        AlertDelivery.objects.filter(pk__in=moot).update(
            state=AlertDelivery.State.FAILED,
            last_error="no longer relevant",
            updated_at=timezone.now(),
        )
    outgoing = _outgoing([d for d in deliveries if d.pk not in moot])
    ready = [item for item in outgoing if item.outcome is None]
    if ready:
        sms, push = get_sms_backend(), get_push_backend()
        _hand_over(ready)
        # The providers' clients are thread-safe (one thread per message of the batch); a
        # backend that is not (the outbox writes to the database) sends one after another.
        concurrent = len(ready) > 1 and all(getattr(b, "thread_safe", False) for b in (sms, push))
        run = _send_pool().map if concurrent else map
        for _ in run(functools.partial(_deliver, sms=sms, push=push), ready):
            pass
    _deliveries_sent([item for item in outgoing if isinstance(item.outcome, str)])
    retries = {}
    for item in outgoing:
        delivery, outcome = item.delivery, item.outcome
        retry_in = None
        if isinstance(outcome, UnregisteredTokenError) and item.device_id is not None:
            Device.objects.filter(pk=item.device_id).update(is_active=False)
        if isinstance(outcome, OutcomeUnknownError):
            # A push is simply sent again (its collapse id keeps it one notification on the
            # phone); an SMS is looked up in Twilio's log first.
            retry_in = _delivery_retry(delivery, outcome, outcome_unknown=True)
        elif isinstance(outcome, TransientChannelError):
            retry_in = _delivery_retry(delivery, outcome)
        elif isinstance(outcome, PermanentChannelError):
            _delivery_failed(delivery, str(outcome))
        elif isinstance(outcome, Exception):
            # Not a provider's answer we know: left "sending", it is taken over after its
            # lease as an outcome unknown, like the send of a worker that died.
            logger.error("Sending delivery %s failed", delivery.pk, exc_info=outcome)
        if retry_in is not None:
            retries[delivery.pk] = retry_in
    return retries


def _deliveries_sent(sent: list[_Outgoing]) -> None:
    """Record the provider ids; alerts now on their way move to "sent", on the timeline.

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
        AlertDelivery.objects.bulk_update(
            deliveries, ["state", "provider_message_id", "last_error", "sent_at", "updated_at"]
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
                [_alert_event(alerts[pk], Alert.State.SENT) for pk in queued]
            )


def _delivery_retry(
    delivery: AlertDelivery, error: Exception, *, outcome_unknown: bool = False
) -> int | None:
    retry_in = _retry_in(delivery)
    if retry_in is None:
        _delivery_failed(delivery, f"gave up after {delivery.attempts} attempts: {error}")
        return None
    now = timezone.now()
    fields: dict[str, object] = {"handed_over_at": None}
    if outcome_unknown and delivery.outcome_unknown_since is None:
        fields["outcome_unknown_since"] = now
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        state=AlertDelivery.State.PENDING,
        last_error=str(error)[:1000],
        next_attempt_at=now + dt.timedelta(seconds=retry_in),
        updated_at=now,
        **fields,
    )
    return retry_in


@transaction.atomic
def _delivery_failed(delivery: AlertDelivery, reason: str) -> None:
    """Mark it failed; an alert whose push failed goes by SMS, one with no channel left fails."""
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        state=AlertDelivery.State.FAILED, last_error=reason[:1000], updated_at=timezone.now()
    )
    alert = delivery.alert
    if delivery.kind != AlertDelivery.Kind.ALERT:
        return
    if delivery.channel == AlertDelivery.Channel.PUSH:
        _enqueue_sends(_deliveries_create(_sms_only([alert]), AlertDelivery.Kind.ALERT))
    if (
        not AlertDelivery.objects.filter(alert=alert, kind=delivery.kind)
        .exclude(state=AlertDelivery.State.FAILED)
        .exists()
    ):
        _alert_move(alert, Alert.State.FAILED, from_states=[Alert.State.QUEUED, Alert.State.SENT])


@transaction.atomic
def alerts_sms_fallback(*, incident_id: int) -> int:
    """SMS to every volunteer whose push has not been confirmed in time: push is never alone."""
    policy = selectors.dispatch_policy_current()
    due = timezone.now() - dt.timedelta(seconds=policy.push_receipt_timeout_s)
    alerts = list(
        Alert.objects.filter(
            incident_id=incident_id,
            incident__state__in=Incident.OPEN_STATES,
            state__in=Alert.WAITING_STATES,
            received_at__isnull=True,
            created_at__lte=due,
            deliveries__channel=AlertDelivery.Channel.PUSH,
            deliveries__kind=AlertDelivery.Kind.ALERT,
        ).exclude(
            deliveries__channel=AlertDelivery.Channel.SMS, deliveries__kind=AlertDelivery.Kind.ALERT
        )
    )
    ids = _deliveries_create(_sms_only(alerts), AlertDelivery.Kind.ALERT)
    _enqueue_sends(ids)
    return len(ids)


def _alert_for_volunteer(alert_id: int, volunteer: Volunteer) -> Alert:
    """The caller's own alert, locked after its incident.

    Every workflow locks in that order (incident, then alerts), and the incident lock is
    FOR NO KEY UPDATE so that inserting timeline rows elsewhere never waits on it: an answer
    racing a cancel waits instead of deadlocking.
    """
    incident_id = (
        Alert.objects.filter(pk=alert_id, volunteer=volunteer)
        .values_list("incident_id", flat=True)
        .first()
    )
    if incident_id is None:
        raise ApplicationError(_("No such alert."), code="not_found")
    incident = Incident.objects.select_for_update(no_key=True).get(pk=incident_id)
    alert = Alert.objects.select_for_update(of=("self",)).select_related("aed").get(pk=alert_id)
    alert.incident = incident
    return alert


@transaction.atomic
def alert_confirm_receipt(*, alert_id: int, volunteer: Volunteer) -> Alert:
    """The app showed the alert: push worked, so no SMS fallback is needed."""
    alert = _alert_for_volunteer(alert_id, volunteer)
    now = timezone.now()
    if alert.received_at is None:
        Alert.objects.filter(pk=alert.pk).update(received_at=now)
        alert.received_at = now
        AlertDelivery.objects.filter(
            alert=alert, channel=AlertDelivery.Channel.PUSH, kind=AlertDelivery.Kind.ALERT
        ).update(state=AlertDelivery.State.DELIVERED, delivered_at=now, updated_at=now)
    _alert_move(alert, Alert.State.DELIVERED, from_states=[Alert.State.QUEUED, Alert.State.SENT])
    return alert


@transaction.atomic
def alert_accept(*, alert_id: int, volunteer: Volunteer, by_sms: bool = False) -> Alert:
    """Accept an alert and get a role: fetch an AED on the way, or go straight to the patient.

    The incident row is locked so that concurrent acceptances count and claim AEDs in turn.
    """
    alert = _alert_for_volunteer(alert_id, volunteer)
    incident = alert.incident
    if alert.state in Alert.RESPONDING_STATES:
        return alert
    if not incident.is_open:
        raise ApplicationError(_("The incident has ended; you do not need to go."), code="ended")
    if alert.state not in Alert.WAITING_STATES:
        raise ApplicationError(
            _("This alert can no longer be accepted (%(state)s).")
            % {"state": alert.get_state_display()},
            code="not_open",
        )
    policy = selectors.dispatch_policy_current()
    now = timezone.now()
    location = _fresh_location(volunteer, policy, now)
    if location is not None and (
        selectors.metres_between(location, incident.location) > policy.acceptance_max_distance_m
    ):
        raise ApplicationError(
            _("You are too far away from the incident now; others have been alerted."),
            code="out_of_range",
        )
    aed = None
    fetchers = Alert.objects.filter(
        incident=incident, role=Alert.Role.AED, state__in=Alert.RESPONDING_STATES
    ).count()
    if fetchers < policy.aed_fetchers:
        preferred: frozenset[int] = frozenset()
        if alert.pool == Alert.Pool.CORPS and volunteer.local_area:
            preferred = frozenset(volunteer.local_area.local_aeds.values_list("pk", flat=True))
        aed = selectors.aed_for_responder(
            incident_id=incident.pk,
            point=incident.location,
            responder_location=location,
            preferred_aed_ids=preferred,
            policy=policy,
            at=now,
        )
    role = Alert.Role.AED if aed else Alert.Role.CPR
    _alert_move(
        alert,
        Alert.State.ACCEPTED,
        from_states=Alert.WAITING_STATES,
        role=role,
        aed=aed,
        answered_at=now,
    )
    if aed:
        _event(
            incident.pk,
            IncidentEvent.Kind.AED_CLAIMED,
            _("%(volunteer)s fetches AED %(aed)s")
            % {"volunteer": _volunteer_label(alert), "aed": aed.name},
            alert_id=alert.pk,
        )
    if by_sms:
        _enqueue_sends(_deliveries_create(_sms_only([alert]), AlertDelivery.Kind.DETAILS))
    if _accepted_count(incident.pk) >= policy.target_accepted:
        _release_waiting(incident)
    return alert


def _fresh_location(volunteer: Volunteer, policy: DispatchPolicy, now: dt.datetime):
    if volunteer.location is None or volunteer.location_updated_at is None:
        return None
    if now - volunteer.location_updated_at > dt.timedelta(seconds=policy.location_max_age_s):
        return None
    return volunteer.location


def _release_waiting(incident: Incident) -> None:
    """The target is reached: thank the others and stop recruiting."""
    waiting = list(Alert.objects.filter(incident=incident, state__in=Alert.WAITING_STATES))
    for alert in waiting:
        _alert_move(alert, Alert.State.RELEASED, from_states=Alert.WAITING_STATES)
    incident_transition(
        incident_id=incident.pk,
        to_state=Incident.State.ACTIVE,
        from_states=[Incident.State.DISPATCHING],
    )
    _enqueue_sends(_deliveries_create(_channels_used(waiting), AlertDelivery.Kind.RELEASE))


@transaction.atomic
def alert_decline(*, alert_id: int, volunteer: Volunteer) -> Alert:
    alert = _alert_for_volunteer(alert_id, volunteer)
    if alert.state == Alert.State.DECLINED:
        return alert
    if not _alert_move(
        alert, Alert.State.DECLINED, from_states=Alert.WAITING_STATES, answered_at=timezone.now()
    ):
        raise ApplicationError(
            _("This alert can no longer be declined (%(state)s).")
            % {"state": alert.get_state_display()},
            code="not_open",
        )
    return alert


# Progress a responder reports, and the states each step may come from.
PROGRESS_STEPS: dict[str, tuple[str, ...]] = {
    Alert.State.EN_ROUTE: (Alert.State.ACCEPTED,),
    Alert.State.AED_COLLECTED: (Alert.State.ACCEPTED, Alert.State.EN_ROUTE),
    Alert.State.ON_SCENE: (Alert.State.ACCEPTED, Alert.State.EN_ROUTE, Alert.State.AED_COLLECTED),
    Alert.State.RELEASED: Alert.RESPONDING_STATES,
}


@transaction.atomic
def alert_progress(*, alert_id: int, volunteer: Volunteer, state: str) -> Alert:
    alert = _alert_for_volunteer(alert_id, volunteer)
    if state not in PROGRESS_STEPS:
        raise ApplicationError(_("Unknown progress step."), field="state", code="invalid")
    if state == Alert.State.AED_COLLECTED and alert.role != Alert.Role.AED:
        raise ApplicationError(_("You were not asked to fetch an AED."), field="state")
    if alert.state == state:
        return alert
    released_aed = {}
    if state == Alert.State.RELEASED and alert.state in (
        Alert.State.ACCEPTED,
        Alert.State.EN_ROUTE,
    ):
        # Withdrawing before collecting it frees the AED for another responder.
        released_aed = {"role": Alert.Role.NONE, "aed": None}
    if not _alert_move(alert, state, from_states=PROGRESS_STEPS[state], **released_aed):
        raise ApplicationError(
            _("Cannot go from %(from)s to %(to)s.")
            % {"from": alert.get_state_display(), "to": Alert.State(state).label},
            field="state",
        )
    return alert


def alerts_stand_down(*, incident: Incident, actor=None) -> None:
    """The incident ended: tell everyone still alerted or on the way, and close their alerts."""
    live = list(Alert.objects.filter(incident=incident, state__in=Alert.LIVE_STATES))
    to_state = (
        Alert.State.CANCELLED
        if incident.state == Incident.State.CANCELLED
        else Alert.State.RELEASED
    )
    for alert in live:
        _alert_move(alert, to_state, from_states=Alert.LIVE_STATES, actor=actor)
    _enqueue_sends(_deliveries_create(_channels_used(live), AlertDelivery.Kind.STAND_DOWN))


def sms_reply_handle(*, from_phone: str, body: str) -> Alert | None:
    """JA accepts and NEJ declines the sender's latest open alert; anything else is ignored."""
    words = re.findall(r"\w+", body)
    answer = words[0].upper() if words else ""
    if answer not in {"JA", "NEJ", "YES", "NO"}:
        return None
    volunteer = Volunteer.objects.filter(phone=from_phone).first()
    if volunteer is None:
        return None
    alert = (
        Alert.objects.filter(
            volunteer=volunteer,
            state__in=Alert.WAITING_STATES,
            incident__state__in=Incident.OPEN_STATES,
        )
        .order_by("-created_at")
        .first()
    )
    if alert is None:
        return None
    try:
        if answer in {"JA", "YES"}:
            return alert_accept(alert_id=alert.pk, volunteer=volunteer, by_sms=True)
        return alert_decline(alert_id=alert.pk, volunteer=volunteer)
    except ApplicationError:
        return None


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
            _alert_move(
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


def sweep() -> dict[str, int]:
    """Re-queue what a lost enqueue or a dead worker left behind; the safety net of the outbox."""
    from alerts.tasks import (
        alerts_sms_fallback_task,
        incident_dispatch_task,
        incident_escalate_task,
    )

    now = timezone.now()
    pending_incidents = list(
        Incident.objects.filter(
            state=Incident.State.PENDING_DISPATCH, created_at__lte=now - dt.timedelta(seconds=3)
        ).values_list("pk", flat=True)
    )
    for incident_id in pending_incidents:
        incident_dispatch_task.delay(incident_id)
    stale_deliveries = list(
        AlertDelivery.objects.filter(
            Q(state=AlertDelivery.State.PENDING, next_attempt_at__lte=now - dt.timedelta(seconds=3))
            | Q(state=AlertDelivery.State.SENDING, updated_at__lt=now - _sending_lease())
        ).values_list("pk", flat=True)[:1000]
    )
    _queue_batches(stale_deliveries)
    policy = selectors.dispatch_policy_current()
    dispatching = list(
        Incident.objects.filter(state=Incident.State.DISPATCHING).values_list(
            "pk", "dispatch_wave", "last_wave_at"
        )
    )
    for incident_id, wave, last_wave_at in dispatching:
        alerts_sms_fallback_task.delay(incident_id)
        if last_wave_at and last_wave_at <= now - dt.timedelta(seconds=policy.escalate_after_s + 5):
            incident_escalate_task.delay(incident_id, wave)
    return {
        "incidents": len(pending_incidents),
        "deliveries": len(stale_deliveries),
        "dispatching": len(dispatching),
    }
