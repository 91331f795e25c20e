"""Small helpers for the console templates."""

from django import template
from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _

from amk.console.sessions import idle_remaining_s

register = template.Library()


@register.simple_tag
def demo_mode() -> bool:
    return settings.APP_MODE == "demo"


@register.filter
def age(seconds) -> str:
    """A compact age for a glance: "45 s", "12 min", "3 h 05 min"."""
    try:
        seconds = max(int(seconds), 0)
    except (TypeError, ValueError):
        return ""
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    if seconds < 3600:
        return _("%(m)d min") % {"m": seconds // 60}
    return _("%(h)d h %(m)02d min") % {"h": seconds // 3600, "m": seconds % 3600 // 60}


@register.filter
def distance(metres) -> str:
    """A distance as the board shows it; unknown for a corps member without a position."""
    if metres is None or metres == "":
        return _("distance unknown")
    metres = int(metres)
    if metres < 1000:
        return f"{metres} m"
    return f"{formats.number_format(metres / 1000, 1)} km"


@register.filter
def aed_availability(availability: str) -> str:
    """An AED's availability now, as the board shows it."""
    labels = {
        "available": _("available now"),
        "closed": _("closed now"),
        "inactive": _("inactive"),
    }
    return labels.get(availability, availability)


@register.simple_tag(takes_context=True)
def session_clock(context) -> dict:
    """What the page's idle warning needs (amk/static/amk/session.js)."""
    request = context.get("request")
    if request is None or not hasattr(request, "session"):
        return {}
    return {
        "remaining_s": idle_remaining_s(request),
        "warning_s": settings.SESSION_IDLE_WARNING_S,
    }
