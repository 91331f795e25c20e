"""The words volunteers receive, in Danish by default. Before acceptance: no address."""

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _

from alerts.models import Alert, AlertDelivery


def kilometres(metres: float) -> str:
    """One decimal, in the active language's format ("1,5" in Danish)."""
    return formats.number_format(metres / 1000, 1)


def _distance_text(distance_m: int | None) -> str:
    if not distance_m:
        return _("near you")
    if distance_m < 1000:
        return _("about %(m)d m from you") % {"m": round(distance_m, -2) or 100}
    return _("about %(km)s km from you") % {"km": kilometres(distance_m)}


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
            body = _("Address: %(address)s. %(role)s Call 1-1-2 if the situation changes.") % {
                "address": incident.address or _("see the map in the app"),
                "role": _role_text(alert),
            }
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
            title = _("Stand down")
            body = _("The alert is over: you do not need to go. Thank you for being ready to help.")
        if delivery.channel == AlertDelivery.Channel.SMS:
            # Each SMS names its alert, so no two deliveries share a text: after a lost answer
            # the one found in Twilio's log is this delivery's own, never another incident's
            # identical alert to the same number (alerts.services.sending, reconciliation).
            body = f"{body} " + _("(alert %(ref)s)") % {"ref": alert.pk}
    return title, body
