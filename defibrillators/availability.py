"""Whether an AED can be fetched at a given moment: active, battery and pads not expired, and
open by its opening hours. (Who may fetch it, and whether it is already out, is the dispatch's
business: alerts.selectors.aeds.)"""

import datetime as dt
import functools
import zoneinfo

from django.conf import settings
from opening_hours import OpeningHours, ParserError

from defibrillators.models import Defibrillator

LOCAL_TZ = zoneinfo.ZoneInfo(settings.TIME_ZONE)


@functools.lru_cache(maxsize=512)
def _parsed(opening_hours: str) -> OpeningHours | None:
    try:
        return OpeningHours(opening_hours, timezone=LOCAL_TZ, country="DK")
    except (ParserError, SyntaxError, ValueError):
        return None


def opening_hours_is_valid(opening_hours: str) -> bool:
    return _parsed(opening_hours) is not None


def opening_hours_is_open(opening_hours: str, at: dt.datetime) -> bool:
    """Unparseable hours count as closed: a responder must not be sent to a locked cabinet."""
    parsed = _parsed(opening_hours or "24/7")
    return parsed is not None and parsed.is_open(at.astimezone(LOCAL_TZ))


def aed_is_available(aed: Defibrillator, at: dt.datetime) -> bool:
    if aed.status != Defibrillator.Status.ACTIVE:
        return False
    if aed.is_expired(at.astimezone(LOCAL_TZ).date()):
        return False
    return opening_hours_is_open(aed.opening_hours, at)
