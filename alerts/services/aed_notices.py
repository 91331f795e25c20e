"""The SMS to AEDs' owners and contacts (``AedNotice``): created once each by constraint (one per
use, one per AED and expiry date), then sent with the delivery engine's guarantees: claimed by
one conditional UPDATE with a lease (a task run twice, or a sweep racing it, sends once), the
hand-over recorded before the provider is called, transient errors retried with backoff, and a
message whose answer was lost looked up in the provider's log before any resend (each text
names its notice, "ref. N"). A notice that no longer matters (the AED given up before it was
collected, the battery replaced) is not sent.
"""

import datetime as dt
import logging

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.aed_messages import aed_expiry_text, aed_taken_text
from alerts.channels.base import (
    OutcomeUnknownError,
    PermanentChannelError,
    SmsMessage,
    TransientChannelError,
    get_sms_backend,
)
from alerts.enqueue import aed_notices_send_on_commit
from alerts.models import AedNotice, AedUse
from alerts.services.sending import RECONCILE_MARGIN, outbox_claim, sending_lease
from defibrillators.models import EXPIRY_WARNING_DAYS, Defibrillator

logger = logging.getLogger(__name__)

# As the delivery engine's messages other than alerts: give up after this many attempts.
MAX_ATTEMPTS = 6
MAX_BACKOFF_S = 30

State = AedNotice.State


def aed_contact_phone(aed: Defibrillator) -> str:
    """The number an AED's messages go to, E.164: its contact's, else its owner's if that is a
    valid number (an OSM import's phone tag may be anything); "" when there is none."""
    if aed.contact_phone:
        return str(aed.contact_phone)
    try:
        number = phonenumbers.parse(aed.owner_phone or "", "DK")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def aed_taken_notice_create(use: AedUse) -> int | None:
    """The "your AED was taken" SMS of a use that has a contact to tell, sent once committed."""
    if not use.contact_phone:
        return None
    try:
        with transaction.atomic():
            notice = AedNotice.objects.create(
                aed_id=use.aed_id,
                kind=AedNotice.Kind.TAKEN,
                use=use,
                to=use.contact_phone,
                body=aed_taken_text(aed=use.aed, ref=use.pk),
            )
    except IntegrityError:  # this use's notice exists already
        return None
    aed_notices_send_on_commit(notice_ids=[notice.pk])
    return notice.pk


@transaction.atomic
def aed_expiry_notices_create(*, today: dt.date | None = None) -> list[int]:
    """A reminder for every active AED whose battery or pads expire within EXPIRY_WARNING_DAYS,
    once per AED and expiry date (a date within the window gets one, whenever this runs); they
    are sent once committed. Returns the new notices."""
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=EXPIRY_WARNING_DAYS)
    created = []
    for aed in Defibrillator.objects.active().expiring(today=today):
        to = aed_contact_phone(aed)
        dates = {d for d in (aed.battery_expires_on, aed.pads_expire_on) if d}
        for expires_on in sorted(d for d in dates if today <= d <= horizon):
            if not to:
                continue
            notice, new = AedNotice.objects.get_or_create(
                aed=aed,
                kind=AedNotice.Kind.EXPIRY,
                expires_on=expires_on,
                defaults={"to": to, "body": aed_expiry_text(aed=aed, expires_on=expires_on)},
            )
            if new:
                created.append(notice.pk)
    aed_notices_send_on_commit(notice_ids=created)
    return created


def aed_notices_due(*, limit: int = 500) -> list[int]:
    """Notices a lost enqueue or a dead worker left behind: pending and due, or sending past the
    lease."""
    now = timezone.now()
    return list(
        AedNotice.objects.filter(state=State.PENDING, next_attempt_at__lte=now).values_list(
            "pk", flat=True
        )[:limit]
    ) + list(
        AedNotice.objects.filter(
            state=State.SENDING, updated_at__lt=now - sending_lease()
        ).values_list("pk", flat=True)[:limit]
    )


def _claim(notice_ids: list[int]) -> list[AedNotice]:
    """Take due notices for sending, and those whose sender vanished mid-send (as an outcome
    unknown if it had handed the message over). A notice claimed meanwhile by another sender
    is left to it."""
    claimed = outbox_claim(model=AedNotice, ids=notice_ids, lease=sending_lease())
    return list(
        AedNotice.objects.select_related("use", "aed").filter(pk__in=claimed).order_by("pk")
    )


def _still_relevant(notice: AedNotice) -> bool:
    if notice.kind == AedNotice.Kind.TAKEN:
        return notice.use is not None and notice.use.ended_at is None
    aed = notice.aed
    return aed.status == Defibrillator.Status.ACTIVE and notice.expires_on in (
        aed.battery_expires_on,
        aed.pads_expire_on,
    )


def _finish(notice: AedNotice, state: str, **fields: object) -> None:
    AedNotice.objects.filter(pk=notice.pk).update(state=state, updated_at=timezone.now(), **fields)


def _send_one(notice: AedNotice) -> int | None:
    """Hand one claimed notice to the provider and record what came of it; the seconds until
    its retry, if one is due."""
    if not _still_relevant(notice):
        _finish(notice, State.FAILED, last_error="no longer relevant")
        return None
    sms = get_sms_backend()
    try:
        message = SmsMessage(to=notice.to, body=notice.body)
        AedNotice.objects.filter(pk=notice.pk).update(handed_over_at=timezone.now())
        provider_id = None
        if notice.outcome_unknown_since is not None:
            # The last attempt may have reached the provider: look before sending it again.
            provider_id = sms.find_sent(
                message, since=notice.outcome_unknown_since - RECONCILE_MARGIN
            )
        provider_id = provider_id or sms.send(message)
    except PermanentChannelError as error:
        _finish(notice, State.FAILED, last_error=str(error)[:1000])
        return None
    except TransientChannelError as error:
        if notice.attempts >= MAX_ATTEMPTS:
            _finish(notice, State.FAILED, last_error=f"gave up: {error}"[:1000])
            return None
        retry_in = min(2**notice.attempts, MAX_BACKOFF_S)
        now = timezone.now()
        unknown = {}
        if isinstance(error, OutcomeUnknownError) and notice.outcome_unknown_since is None:
            unknown = {"outcome_unknown_since": now}
        _finish(
            notice,
            State.PENDING,
            last_error=str(error)[:1000],
            handed_over_at=None,
            next_attempt_at=now + dt.timedelta(seconds=retry_in),
            **unknown,
        )
        return retry_in
    except Exception:
        # Not a provider's answer we know: left "sending", it is taken over after its lease as
        # an outcome unknown (looked up before any resend), like the send of a worker that died.
        logger.exception("Sending AED notice %s failed", notice.pk)
        return None
    _finish(
        notice,
        State.SENT,
        provider_message_id=str(provider_id),
        last_error="",
        sent_at=timezone.now(),
    )
    return None


def aed_notices_send(*, notice_ids: list[int]) -> dict[int, int]:
    """Send the notices that are due, one after another (they are few), each claimed just
    before its own send, so that none waits out its lease behind the others and is taken over
    while still queued here. Returns the seconds until a retry is due for each that needs one."""
    retries = {}
    for notice_id in sorted(set(notice_ids)):
        for notice in _claim([notice_id]):
            retry_in = _send_one(notice)
            if retry_in is not None:
                retries[notice.pk] = retry_in
    return retries
