"""Filters of the statistics and coverage pages."""

from django import template
from django.contrib.auth.models import Permission
from django.db.models import Q
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


@register.simple_tag(takes_context=True)
def can_view_statistics(context) -> bool:
    """Whether the nav shows the management pages: ``amk.view_statistics`` in one EXISTS query
    (directly or through a group), not the two that loading every permission takes; no query
    for a superuser."""
    user = context.get("user")
    if user is None or not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    return Permission.objects.filter(
        Q(user=user) | Q(group__user=user),
        content_type__app_label="amk",
        codename="view_statistics",
    ).exists()
