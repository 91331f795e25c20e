"""The AEDs sent for (``AedUse``): a use opens when an alert is given an AED and ends when someone
confirms it is back: the fetcher in the app, the owner or contact by SMS ("RETUR"), or an
administrator. An AED given up before it was collected ends as not taken. While a use is open
the AED is "in use" and never assigned (alerts.selectors.aeds).

Alerts' AED changes all go through ``alerts.services.timeline.alert_move``, which calls
``alert_aed_changed`` (and ``alert_aed_collected``) in the mover's transaction.
"""

import logging
import re

import phonenumbers
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.aed_messages import aed_return_unknown_text, aed_return_which_text, aed_returned_text
from alerts.models import AedUse, Alert
from alerts.services.aed_notices import aed_contact_phone, aed_taken_notice_create
from config.exceptions import ApplicationError
from volunteers.models import Volunteer

logger = logging.getLogger(__name__)

Via = AedUse.Via


def alert_aed_changed(alert: Alert, *, previous_aed_id: int | None) -> None:
    """The alert's AED was set, changed or cleared: the AED given up ends as not taken unless it
    was collected (then it is out there until someone confirms it back); the new AED's use
    opens, and its contact is told by SMS (once committed) and asked to confirm its return."""
    now = timezone.now()
    if previous_aed_id is not None and previous_aed_id != alert.aed_id:
        AedUse.objects.filter(
            alert=alert, aed_id=previous_aed_id, ended_at__isnull=True, collected_at__isnull=True
        ).update(ended_at=now, ending=AedUse.Ending.NOT_TAKEN, ended_via=Via.DISPATCH)
    if alert.aed is None or alert.aed_id == previous_aed_id:
        return
    try:
        with transaction.atomic():
            use = AedUse.objects.create(
                aed=alert.aed, alert=alert, taken_at=now, contact_phone=aed_contact_phone(alert.aed)
            )
    except IntegrityError:
        # Already in use (the AED choice reserves it, so only an assignment by hand gets here):
        # the open use stays the record until its return is confirmed.
        logger.warning("AED %s assigned to alert %s while in use", alert.aed_id, alert.pk)
        return
    aed_taken_notice_create(use)


def alert_aed_collected(alert: Alert) -> None:
    """The fetcher reports having the AED: giving it up now no longer ends its use."""
    AedUse.objects.filter(
        alert=alert, aed_id=alert.aed_id, ended_at__isnull=True, collected_at__isnull=True
    ).update(collected_at=timezone.now())


# --- Its return confirmed ----------------------------------------------------------------------


@transaction.atomic
def aed_return_confirm(
    *, use_id: int, via: str, user: User | None = None, phone: str = ""
) -> AedUse:
    """The AED of this use is back: it can be assigned again. Confirming an ended use changes
    nothing (a second RETUR, a double tap)."""
    if via not in {Via.APP, Via.SMS, Via.ADMIN}:
        raise ApplicationError(_("Unknown way of confirming a return."), field="via")
    use = AedUse.objects.select_for_update(of=("self",)).select_related("aed").filter(pk=use_id)
    found = use.first()
    if found is None:
        raise ApplicationError(_("No such use of an AED."), code="not_found")
    if found.ended_at is None:
        found.ended_at, found.ending, found.ended_via = timezone.now(), AedUse.Ending.RETURNED, via
        found.ended_by_user, found.ended_by_phone = user, phone
        found.save(
            update_fields=["ended_at", "ending", "ended_via", "ended_by_user", "ended_by_phone"]
        )
    return found


def aed_return_by_fetcher(*, alert_id: int, volunteer: Volunteer) -> AedUse:
    """The volunteer sent for an AED on this alert of theirs confirms it is back in place."""
    alert = Alert.objects.filter(pk=alert_id, volunteer=volunteer).first()
    if alert is None:
        raise ApplicationError(_("No such alert."), code="not_found")
    # Its open use first (a collected AED stays out even if the alert's AED changed since).
    use = (
        AedUse.objects.filter(alert=alert)
        .order_by(F("ended_at").asc(nulls_first=True), "-taken_at")
        .first()
    )
    if use is None:
        raise ApplicationError(_("You were not sent for an AED."), code="not_open")
    return aed_return_confirm(use_id=use.pk, via=Via.APP)


@transaction.atomic
def aeds_return_by_admin(*, aed_ids: list[int], user: User) -> int:
    """An administrator confirms these AEDs are back; returns how many were in use."""
    open_uses = list(
        AedUse.objects.filter(aed_id__in=aed_ids, ended_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    for use_id in open_uses:
        aed_return_confirm(use_id=use_id, via=Via.ADMIN, user=user)
    return len(open_uses)


# --- By SMS: "RETUR" from the owner's or contact's number --------------------------------------

RETURN_WORDS = ("RETUR", "RETURNERET", "TILBAGE", "RETURN")
_RETURN_RE = re.compile(rf"^\W*(?:{'|'.join(RETURN_WORDS)})\b\W*(\d+)?", re.IGNORECASE)


def aed_return_parse(body: str) -> tuple[bool, int | None]:
    """Whether an SMS says an AED is back ("RETUR", "retur 12", "Tilbage."), and the reference
    it names, if any ("RETUR 12": the use from the "taken" message)."""
    match = _RETURN_RE.match(body or "")
    if match is None:
        return False, None
    return True, int(match.group(1)) if match.group(1) else None


def _e164(phone: str) -> str:
    try:
        number = phonenumbers.parse(phone, "DK")
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def aed_return_by_sms(*, from_phone: str, body: str) -> str | None:
    """A reply "RETUR" from an AED's contact (or owner) confirms the AED is back; the answer to
    send them, or None when the SMS is not about an AED's return (then it is not for us).

    The sender's open uses are those told to their number, or of AEDs with it as contact. One
    is confirmed by "RETUR"; of several, "RETUR <ref>" names which (else they are asked).
    """
    is_return, ref = aed_return_parse(body)
    if not is_return:
        return None
    phone = _e164(from_phone)
    uses = list(
        AedUse.objects.filter(Q(contact_phone=phone) | Q(aed__contact_phone=phone))
        .filter(ended_at__isnull=True)
        .select_related("aed")
        .order_by("taken_at")
    )
    if not uses:
        return aed_return_unknown_text()
    chosen = [use for use in uses if use.pk == ref] if ref is not None else uses
    if len(chosen) != 1:
        return aed_return_which_text(choices=[(use.pk, use.aed.name) for use in uses])
    use = aed_return_confirm(use_id=chosen[0].pk, via=Via.SMS, phone=phone)
    return aed_returned_text(aed_name=use.aed.name)
