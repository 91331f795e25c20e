"""SMS replies: every message to the alert number is recorded once, read, acted on, answered.

- Recorded once by Twilio's MessageSid (``InboundMessage``): a replayed webhook changes nothing
  and gets the answer the first one got.
- Read tolerantly: the first word is the answer (JA, "ja tak", "Ja!", "jep", … or NEJ, "nej
  tak", …); a number right after it (or before it) is an alert's reference, as every alert SMS
  ends with "(alarm 4821)": "JA 4821", "nej 4821", "Ja tak 4821". A JA that also says "ikke" or
  NEJ is not understood rather than guessed.
- A reference answers that alert, if it is the sender's own. A bare answer answers the sender's
  only open alert: for JA one awaiting an answer (or, if there is none, the one they accepted),
  for NEJ one awaiting an answer or accepted (NEJ after JA withdraws). With several, the answer
  lists them and asks which, and nothing changes.
- Every message gets an answer in Danish (alerts.messages), except an accepted JA: its answer
  is the SMS with the address and role (a delivery, with retries), so one JA gets one message.
- "RETUR" from an AED's contact confirms that AED is back (alerts.services.aed_uses).

The demo phone (alerts.views) answers through here too, so it shows the same replies.
"""

import datetime as dt
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation

from alerts import messages
from alerts.models import Alert, InboundMessage
from alerts.services.aed_uses import aed_return_by_sms
from alerts.services.answers import alert_accept, alert_decline, alert_withdraw
from amk.models.incident import Incident
from config.exceptions import ApplicationError
from volunteers.models import Volunteer

Outcome = InboundMessage.Outcome
YES, NO = "JA", "NEJ"

_YES_WORD = re.compile(r"ja+|jep+s?|jo|yes|yep")
_NO_WORD = re.compile(r"nej+|næ+|nix|no|nope")
# A JA with one of these is not a plain yes ("ja, men kan ikke"): asked again, not guessed.
_CONTRADICTING_YES = re.compile(r"nej+|ikke|not?|næ+|nix")
# Words that may stand between the answer and the reference: "Ja tak 4821", "JA alarm 4821".
_BEFORE_REFERENCE = frozenset({"tak", "alarm", "alarmen", "til", "nr", "nummer"})
# A number followed by one of these is not a reference: "ja, 5 min".
_UNITS = frozenset(
    {"min", "mins", "minut", "minutter", "sek", "sekunder", "s", "m", "meter", "km", "t", "time"}
)
_MAX_REFERENCE_DIGITS = 18  # fits a bigint; longer numbers are no alert of ours


@dataclass(frozen=True)
class Reading:
    """What an SMS says: JA, NEJ or neither (None), and the reference it gives, if any."""

    answer: str | None
    reference: str | None


def sms_read(body: str) -> Reading:
    """Read an SMS reply: tolerant of case, punctuation, "tak" and Danish variants."""
    tokens = re.findall(r"[^\W\d_]+|\d+", body.lower())
    if len(tokens) >= 2 and tokens[0].isdigit() and not tokens[1].isdigit():
        tokens = [tokens[1], tokens[0], *tokens[2:]]  # "4821 ja"
    if not tokens:
        return Reading(None, None)
    first, rest = tokens[0], tokens[1:]
    if _YES_WORD.fullmatch(first):
        if any(_CONTRADICTING_YES.fullmatch(word) for word in rest):
            return Reading(None, None)
        answer = YES
    elif _NO_WORD.fullmatch(first):
        if any(_YES_WORD.fullmatch(word) for word in rest):
            return Reading(None, None)
        answer = NO
    else:
        return Reading(None, None)
    return Reading(answer, _reference(rest))


def _reference(words: list[str]) -> str | None:
    for i, word in enumerate(words):
        if word.isdigit():
            following = words[i + 1] if i + 1 < len(words) else ""
            return None if following in _UNITS else word
        if word not in _BEFORE_REFERENCE:
            return None
    return None


@dataclass(frozen=True)
class _Answer:
    outcome: str
    reply: str
    alert: Alert | None = None


def sms_inbound_handle(*, message_sid: str, from_phone: str, body: str) -> InboundMessage:
    """Record, act on and answer one SMS; a replay returns the first one's record unchanged.

    The record is inserted first, in the transaction that acts: a replay arriving meanwhile
    waits on its unique MessageSid, then finds it with its answer.
    """
    with translation.override(settings.LANGUAGE_CODE), transaction.atomic():
        try:
            with transaction.atomic():
                message = InboundMessage.objects.create(
                    message_sid=message_sid,
                    from_phone=from_phone,
                    body=body,
                    outcome=Outcome.NOT_UNDERSTOOD,
                )
        except IntegrityError:
            return InboundMessage.objects.get(message_sid=message_sid)
        volunteer = _sender(from_phone)
        aed_reply = aed_return_by_sms(from_phone=from_phone, body=body)
        if aed_reply is not None:
            answer = _Answer(Outcome.AED_RETURN, aed_reply)
        elif volunteer is None:
            answer = _Answer(Outcome.UNKNOWN_SENDER, _unknown_sender_reply(message))
        else:
            answer = _answer(volunteer, sms_read(body))
        message.volunteer = volunteer
        message.alert = answer.alert
        message.outcome = answer.outcome
        message.reply = answer.reply
        message.save(update_fields=["volunteer", "alert", "outcome", "reply"])
    return message


# An unknown number is told once a day at most: each answer is a paid SMS, and a flood of texts
# from made-up senders must not become a flood of answers.
UNKNOWN_SENDER_REPLY_EVERY = dt.timedelta(hours=24)


def _unknown_sender_reply(message: InboundMessage) -> str:
    told_recently = (
        InboundMessage.objects.filter(
            from_phone=message.from_phone,
            outcome=Outcome.UNKNOWN_SENDER,
            received_at__gte=message.received_at - UNKNOWN_SENDER_REPLY_EVERY,
        )
        .exclude(pk=message.pk)
        .exclude(reply="")
        .exists()
    )
    return "" if told_recently else messages.reply_unknown_sender()


def demo_sms_send(*, volunteer: Volunteer, body: str) -> InboundMessage:
    """The demo phone's SMS to the alert number: the same path as Twilio's webhook."""
    return sms_inbound_handle(
        message_sid=f"demo-{uuid.uuid4().hex}", from_phone=str(volunteer.phone), body=body
    )


def _sender(from_phone: str) -> Volunteer | None:
    try:
        return Volunteer.objects.filter(phone=from_phone).first()
    except (ValueError, TypeError):  # not a phone number at all
        return None


def _open_alerts(volunteer: Volunteer) -> list[Alert]:
    """The sender's live alerts on open incidents, newest first."""
    return list(
        Alert.objects.filter(
            volunteer=volunteer,
            state__in=Alert.LIVE_STATES,
            incident__state__in=Incident.OPEN_STATES,
        )
        .select_related("incident__municipality")
        .defer("incident__municipality__area")
        .order_by("-created_at", "-pk")
    )


def _answer(volunteer: Volunteer, reading: Reading) -> _Answer:
    if reading.answer is None:
        return _Answer(Outcome.NOT_UNDERSTOOD, messages.reply_not_understood())
    if reading.reference is not None:
        alert = _own_alert(volunteer, reading.reference)
        if alert is None:
            return _Answer(
                Outcome.UNKNOWN_REFERENCE, messages.reply_unknown_reference(reading.reference)
            )
        return _act(volunteer, alert, reading.answer)
    candidates = _open_alerts(volunteer)
    if reading.answer == YES:
        waiting = [a for a in candidates if a.state in Alert.WAITING_STATES]
        candidates = waiting or candidates
    if len(candidates) > 1:
        listed = [(a.pk, a.incident.municipality.name) for a in candidates]
        return _Answer(Outcome.AMBIGUOUS, messages.reply_ambiguous(reading.answer, listed))
    if not candidates:
        latest = Alert.objects.filter(volunteer=volunteer).order_by("-created_at", "-pk").first()
        ref = latest.pk if latest else None
        return _Answer(Outcome.TOO_LATE, messages.reply_too_late(ref), latest)
    return _act(volunteer, candidates[0], reading.answer)


def _own_alert(volunteer: Volunteer, reference: str) -> Alert | None:
    if len(reference) > _MAX_REFERENCE_DIGITS:
        return None
    return Alert.objects.filter(pk=int(reference), volunteer=volunteer).first()


def _has_withdrawn(alert: Alert) -> bool:
    return alert.state == Alert.State.RELEASED and alert.answered_at is not None


def _act(volunteer: Volunteer, alert: Alert, answer: str) -> _Answer:
    ref = alert.pk
    open_now = Incident.objects.filter(pk=alert.incident_id, state__in=Incident.OPEN_STATES)
    if not open_now.exists():
        return _Answer(Outcome.TOO_LATE, messages.reply_too_late(ref), alert)
    try:
        if answer == YES:
            if alert.state in Alert.RESPONDING_STATES:
                return _Answer(
                    Outcome.ALREADY_ANSWERED, messages.reply_already_accepted(ref), alert
                )
            if alert.state == Alert.State.DECLINED or _has_withdrawn(alert):
                return _Answer(Outcome.ALREADY_ANSWERED, messages.reply_already_out(ref), alert)
            alert_accept(alert_id=alert.pk, volunteer=volunteer, by_sms=True)
            return _Answer(Outcome.ACCEPTED, "", alert)
        if alert.state in Alert.RESPONDING_STATES or _has_withdrawn(alert):
            alert_withdraw(alert_id=alert.pk, volunteer=volunteer)
            return _Answer(Outcome.WITHDRAWN, messages.reply_withdrawn(ref), alert)
        alert_decline(alert_id=alert.pk, volunteer=volunteer)
        return _Answer(Outcome.DECLINED, messages.reply_declined(ref), alert)
    except ApplicationError as error:
        return _refused(volunteer, alert, error)


def _refused(volunteer: Volunteer, alert: Alert, error: ApplicationError) -> _Answer:
    ref = alert.pk
    if error.code == "engaged_elsewhere":
        engaged = Alert.objects.engaged().filter(volunteer=volunteer).exclude(pk=ref).first()
        engaged_ref = engaged.pk if engaged else ref
        return _Answer(
            Outcome.ENGAGED_ELSEWHERE, messages.reply_engaged_elsewhere(ref, engaged_ref), alert
        )
    if error.code in {"ended", "not_open", "expired"}:
        return _Answer(Outcome.TOO_LATE, messages.reply_too_late(ref), alert)
    return _Answer(Outcome.REFUSED, messages.reply_refused(error.message), alert)
