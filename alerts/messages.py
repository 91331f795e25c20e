"""The words volunteers receive, in Danish by default: the text of every delivery and the answer
to every SMS a volunteer sends. Before acceptance: no address.

An SMS travels in GSM-7 (the basic character set of GSM 03.38, which has æ, ø and å): a single
character outside it sends the whole message as UCS-2, 70 characters a segment instead of 160.
So every SMS text passes through ``gsm7``, which brings values from the registries (street and
AED names, placements) into the set, and tests/alerts/test_messages.py renders every text with
worst-case values: each fits one segment, save the details of an AED fetcher (two).
"""

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alerts.models import Alert, AlertDelivery
from amk.models.incident import Incident

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

SMS_SEGMENT = 160
# GSM 03.38's basic character set (the extension table's characters cost two and are left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_LOOKALIKES = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "–": "-",
        "—": "-",
        "‑": "-",
        "…": "...",
        "\u00a0": " ",
        "\t": " ",
    }
)


def gsm7(text: str) -> str:
    """The text in GSM-7's basic set: look-alikes replaced ("’" → "'"), accents dropped where
    the accented letter is not in the set ("á" → "a"), anything else as "?"."""
    out = []
    for char in text.translate(_LOOKALIKES):
        if char in GSM7_BASIC:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if c in GSM7_BASIC)
        out.append(base or "?")
    return "".join(out)


def kilometres(metres: float) -> str:
    """One decimal, in the active language's format ("1,5" in Danish)."""
    return formats.number_format(metres / 1000, 1)


def _distance_text(distance_m: int | None) -> str:
    if distance_m is None:  # a corps member without a known position (the app's have one)
        return _("in your local area")
    metres = max(100, round(distance_m, -2))
    if metres < 1000:
        return _("about %(m)d m from you") % {"m": metres}
    return _("about %(km)s km from you") % {"km": kilometres(metres)}


def _role_text(alert: Alert) -> str:
    if alert.role == Alert.Role.AED and alert.aed:
        aed = alert.aed
        parts = [_("Fetch the AED first: %(name)s") % {"name": aed.name}]
        if aed.address:
            parts.append(aed.address)
        if aed.placement:
            parts.append(aed.placement)
        if aed.cabinet_code:
            parts.append(_("cabinet code %(code)s") % {"code": aed.cabinet_code})
        return ", ".join(parts) + ". " + _("Then go to the patient.")
    return _("Go straight to the patient and start CPR.")


def _stand_down(alert: Alert) -> tuple[str, str]:
    """Cancelled: do not go. Closed (the ambulance is there): thanks, to those who went too."""
    if alert.incident.state == Incident.State.CANCELLED:
        return _("Alert called off"), _(
            "The alert is called off: do not go (turn back if you are on your way). "
            "Thank you for being ready to help."
        )
    if alert.answered_at is not None:
        return _("The ambulance is there"), _(
            "The ambulance is there: thank you for your help. "
            "If you have not arrived yet, you do not need to go on."
        )
    return _("The ambulance is there"), _(
        "The ambulance is there: you do not need to go. Thank you for being ready to help."
    )


def neutral_push_texts() -> tuple[str, str]:
    """(title, body) of a push to a token more than one account holds: nothing personal."""
    with translation.override(settings.LANGUAGE_CODE):
        return _("Hjertealarm"), _("New message from Hjertealarm. Open the app.")


def message_texts(delivery: AlertDelivery) -> tuple[str, str]:
    """(title, body) of a delivery; the body alone, with the alert's reference, is the SMS."""
    alert = delivery.alert
    incident = alert.incident
    with translation.override(settings.LANGUAGE_CODE):
        if delivery.kind == AlertDelivery.Kind.ALERT:
            title = _("Suspected cardiac arrest")
            body = _(
                "HEART ALERT: suspected cardiac arrest %(distance)s in %(area)s. "
                "Can you go now? Answer JA or NEJ."
            ) % {"distance": _distance_text(alert.distance_m), "area": incident.municipality.name}
            if delivery.channel == AlertDelivery.Channel.PUSH:
                body = _("Suspected cardiac arrest %(distance)s. Open the app to answer.") % {
                    "distance": _distance_text(alert.distance_m)
                }
        elif delivery.kind == AlertDelivery.Kind.DETAILS:
            title = _("Thank you for going")
            body = _("Address: %(address)s. %(role)s Call 1-1-2 if anything changes.") % {
                "address": incident.address or _("see the map in the app"),
                "role": _role_text(alert),
            }
        elif delivery.kind == AlertDelivery.Kind.ROLE:
            title = _("Your task has changed")
            body = _("New task: %(role)s") % {"role": _role_text(alert)}
        elif delivery.kind == AlertDelivery.Kind.RELEASE:
            title = _("You are not needed this time")
            body = _("Enough volunteers are on their way. Thank you for being ready to help.")
        elif (
            delivery.kind == AlertDelivery.Kind.STAND_DOWN
            and alert.state == Alert.State.CANCELLED
            and incident.state != incident.State.CANCELLED
        ):
            # One responder stood down by the dispatcher (alerts.services.standdown), also
            # when the incident was closed before the message went out.
            title = _("Stood down")
            body = _("The dispatch centre has stood you down: you do not need to go on. Thank you.")
        else:
            title, body = _stand_down(alert)
        if delivery.channel == AlertDelivery.Channel.SMS:
            # Each SMS names its alert, so no two deliveries share a text: after a lost answer
            # the one found in Twilio's log is this delivery's own, never another incident's
            # identical alert to the same number (alerts.services.sending, reconciliation).
            body = gsm7(f"{body} " + _("(alert %(ref)s)") % {"ref": alert.pk})
    return title, body


# --- Answers to SMS replies (alerts.services.inbound; TwiML <Message>) -----------------------
# When a JA is accepted, the answer is the details delivery above: no second message.


def _reply(text: "StrOrPromise", **values: object) -> str:
    """A lazy text, translated to the SMS language, filled in, in GSM-7."""
    with translation.override(settings.LANGUAGE_CODE):
        return gsm7(str(text) % values if values else str(text))


def reply_declined(ref: int) -> str:
    return _reply(
        gettext_lazy("Thank you for answering. You are not going to alert %(ref)s."), ref=ref
    )


def reply_withdrawn(ref: int) -> str:
    return _reply(
        gettext_lazy(
            "Thank you for letting us know. You are out of alert %(ref)s, and your task goes to "
            "others."
        ),
        ref=ref,
    )


def reply_already_accepted(ref: int) -> str:
    return _reply(
        gettext_lazy(
            "You already said JA to alert %(ref)s. The address and your task have been sent to you."
        ),
        ref=ref,
    )


def reply_already_out(ref: int) -> str:
    return _reply(
        gettext_lazy(
            "You have already said no to alert %(ref)s, so you do not need to go. Thank you."
        ),
        ref=ref,
    )


def reply_too_late(ref: int | None) -> str:
    if ref is None:
        return _reply(
            gettext_lazy(
                "You have no open alert, so you do not need to go. "
                "Thank you for being ready to help."
            ),
        )
    return _reply(
        gettext_lazy(
            "Alert %(ref)s is over, so you do not need to go. Thank you for being ready to help."
        ),
        ref=ref,
    )


def reply_engaged_elsewhere(ref: int, engaged_ref: int) -> str:
    return _reply(
        gettext_lazy(
            "You are already on your way to another alert (%(engaged)s), so do not take alert "
            "%(ref)s. If you cannot make it, answer NEJ %(engaged)s."
        ),
        ref=ref,
        engaged=engaged_ref,
    )


def reply_ambiguous(answer: str, alerts: Sequence[tuple[int, str]]) -> str:
    """Several open alerts: list them (the newest three), ask which; nothing changes."""
    shown = list(alerts[:3])
    with translation.override(settings.LANGUAGE_CODE):
        listing = ", ".join(f"{ref} ({place})" for ref, place in shown)
        if len(shown) == 2:
            ask = _("Answer %(first)s or %(second)s.") % {
                "first": f"{answer} {shown[0][0]}",
                "second": f"{answer} {shown[1][0]}",
            }
        else:
            ask = _("Answer %(answer)s and the number, e.g. %(example)s.") % {
                "answer": answer,
                "example": f"{answer} {shown[0][0]}",
            }
        text = _("You have %(n)d open alerts: %(listing)s. %(ask)s") % {
            "n": len(alerts),
            "listing": listing,
            "ask": ask,
        }
        return gsm7(text)


def reply_unknown_reference(ref: str) -> str:
    return _reply(
        gettext_lazy(
            "We know no alert %(ref)s for your number. Use the number at the end of your alert SMS."
        ),
        ref=ref,
    )


def reply_not_understood() -> str:
    return _reply(
        gettext_lazy(
            "We did not understand your answer. Answer JA if you can go, or NEJ if you cannot. "
            "In an emergency, call 1-1-2."
        ),
    )


def reply_unknown_sender() -> str:
    return _reply(
        gettext_lazy(
            "This number is not signed up for Hjertealarm, so we cannot use your answer. "
            "In an emergency, call 1-1-2."
        ),
    )


def reply_refused(reason: str) -> str:
    """Another rule refused the answer (e.g. moved out of range): its own words."""
    return gsm7(reason)
