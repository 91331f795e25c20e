"""The words an AED's owner or contact receives, in Danish by default: the AED was taken (reply
RETUR when it is back), its battery or pads expire soon, and the answers to their RETUR."""

import datetime as dt

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _

from defibrillators.models import Defibrillator

# An AED's name is cut to this in an SMS, so that each text fits one GSM-7 segment.
NAME_IN_SMS = 40


def short_name(name: str) -> str:
    return name if len(name) <= NAME_IN_SMS else name[: NAME_IN_SMS - 3].rstrip() + "..."


def aed_taken_text(*, aed: Defibrillator, ref: int) -> str:
    """To the contact, the moment the AED is assigned to a responder; ``ref`` names the use
    (its reply "RETUR <ref>") and makes the text this message's own."""
    with translation.override(settings.LANGUAGE_CODE):
        return _(
            "Hjertealarm: AED %(name)s has been sent for to a cardiac arrest. "
            "Reply RETUR when it is back in place. (ref. %(ref)s)"
        ) % {"name": short_name(aed.name), "ref": ref}


def aed_expiry_text(*, aed: Defibrillator, expires_on: dt.date) -> str:
    """To the contact, ahead of the date the battery, the pads or both expire."""
    with translation.override(settings.LANGUAGE_CODE):
        battery, pads = aed.battery_expires_on == expires_on, aed.pads_expire_on == expires_on
        if battery and pads:
            parts = _("The battery and pads")
        elif battery:
            parts = _("The battery")
        else:
            parts = _("The pads")
        return _(
            "Hjertealarm: %(parts)s of AED %(name)s expire on %(date)s. "
            "Please replace them in time. (AED %(ref)s)"
        ) % {
            "parts": parts,
            "name": short_name(aed.name),
            "date": formats.date_format(expires_on, "SHORT_DATE_FORMAT"),
            "ref": aed.pk,
        }


def aed_returned_text(*, aed_name: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("Thank you: AED %(name)s is registered as back and can be sent for again.") % {
            "name": short_name(aed_name)
        }


def aed_return_unknown_text() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("Hjertealarm: no AED of yours is registered as in use.")


def aed_return_which_text(*, choices: list[tuple[int, str]]) -> str:
    """Several AEDs of this number are out: which one is back?"""
    with translation.override(settings.LANGUAGE_CODE):
        return _("Several of your AEDs are in use. Reply RETUR and the number: %(choices)s") % {
            "choices": ", ".join(f"{ref} ({short_name(name)})" for ref, name in choices)
        }
