"""What the volunteers' admins share: a paginator that does not count a million rows, search by
phone number (exact E.164 value, only for staff who may see phone numbers), the changelist
filters and the freshness badge of a position (its age, never the coordinates)."""

import datetime as dt

import phonenumbers
from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

# How old a reported position may be and still count as where the volunteer is now.
LOCATION_LIVE = dt.timedelta(minutes=15)
LOCATION_RECENT = dt.timedelta(hours=24)


class EstimatedCountPaginator(Paginator):
    """Uses PostgreSQL's row estimate for an unfiltered table that is large; exact otherwise."""

    exact_below = 50_000

    @cached_property
    def count(self):
        qs = self.object_list
        query = getattr(qs, "query", None)
        if query is not None and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [qs.model._meta.db_table],
                )
                row = cursor.fetchone()
            estimate = row[0] if row else -1
            if estimate >= self.exact_below:
                return estimate
        return super().count


def normalise_phone(term: str) -> str | None:
    """'20 12 34 56' or '+45 20123456' -> '+4520123456'; None when it is not a phone number."""
    digits = term.replace(" ", "").replace("-", "")
    if not digits.lstrip("+").isdigit() or len(digits.lstrip("+")) < 8:
        return None
    try:
        number = phonenumbers.parse(digits, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


PHONE_PERMISSION = "volunteers.view_phone_number"


class PhoneSearchMixin:
    """A search term that is a phone number finds its volunteer, for staff who may see phone
    numbers only: to anyone else a search by number would tell whose it is."""

    phone_lookup = "phone"

    def get_search_results(self, request, queryset, search_term):
        phone = normalise_phone(search_term.strip())
        if phone and request.user.has_perm(PHONE_PERMISSION):
            return queryset.filter(**{self.phone_lookup: phone}), False
        return super().get_search_results(request, queryset, search_term)


class SchemeFilter(admin.SimpleListFilter):
    title = _("scheme")
    parameter_name = "scheme"

    def lookups(self, request, model_admin):
        return [
            ("heart_runner", _("Hjerteløber")),
            ("corps", _("1-1-2 førstehjælper corps member")),
            ("both", _("Both")),
            ("heart_runner_only", _("Hjerteløber only")),
            ("corps_only", _("Corps member only")),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "heart_runner":
                return queryset.filter(is_heart_runner=True)
            case "corps":
                return queryset.filter(local_area__isnull=False)
            case "both":
                return queryset.filter(is_heart_runner=True, local_area__isnull=False)
            case "heart_runner_only":
                return queryset.filter(is_heart_runner=True, local_area__isnull=True)
            case "corps_only":
                return queryset.filter(is_heart_runner=False, local_area__isnull=False)
        return queryset


class PhoneVerifiedFilter(admin.SimpleListFilter):
    title = _("phone verified")
    parameter_name = "phone_verified"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(phone_verified_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(phone_verified_at__isnull=True)
        return queryset


class LocationFreshnessFilter(admin.SimpleListFilter):
    title = _("location freshness")
    parameter_name = "location"

    def lookups(self, request, model_admin):
        return [
            ("live", _("Within 15 minutes")),
            ("recent", _("Within 24 hours")),
            ("stale", _("Older than 24 hours")),
            ("none", _("No location")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        match self.value():
            case "live":
                return queryset.filter(location_updated_at__gte=now - LOCATION_LIVE)
            case "recent":
                return queryset.filter(location_updated_at__gte=now - LOCATION_RECENT)
            case "stale":
                return queryset.filter(location_updated_at__lt=now - LOCATION_RECENT)
            case "none":
                return queryset.filter(location_updated_at__isnull=True)
        return queryset


def freshness_badge(measured_at, accuracy_m=None):
    if measured_at is None:
        return format_html('<span class="freshness freshness-none">{}</span>', _("no location"))
    age = timezone.now() - measured_at
    if age <= LOCATION_LIVE:
        css = "live"
    elif age <= LOCATION_RECENT:
        css = "recent"
    else:
        css = "stale"
    text = _("%(age)s ago") % {"age": timesince(measured_at, depth=1)}
    accuracy = f"±{accuracy_m} m" if accuracy_m is not None else ""
    return format_html(
        '<span class="freshness freshness-{}" title="{}">{}</span>', css, accuracy, text
    )
