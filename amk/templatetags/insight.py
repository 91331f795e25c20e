"""Filters of the statistics and coverage pages."""

from django import template
from django.utils import formats

register = template.Library()

DASH = "–"


@register.filter
def percent(share) -> str:
    """A share (0-1) as "42,5 %"; none as a dash."""
    if share is None or share == "":
        return DASH
    return f"{formats.number_format(100 * float(share), 1)} %"


@register.filter
def seconds(value) -> str:
    """A duration in seconds as "1:05" (minutes:seconds); none as a dash."""
    if value is None or value == "":
        return DASH
    total = round(float(value))
    return f"{total // 60}:{total % 60:02d}"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None
