"""Admin for volunteers, their devices, the 1-1-2 førstehjælper local areas, debriefs (the
follow-up calls) and consents. Deleting a volunteer here erases the account as the app's own
deletion does (volunteers.services.accounts.volunteer_delete).

There may be a million volunteers: the changelists order by primary key (an index), never count
the whole table exactly, load no polygons, and search phone numbers by exact E.164 value.
"""

import datetime as dt

import phonenumbers
from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from alerts.services.debriefs import debriefs_mark_handled
from config.geoadmin import AreaAdmin, GeoAdmin
from volunteers.admin_vetting import VettingAdminMixin
from volunteers.models import Consent, Debrief, Device, LocalArea, Volunteer
from volunteers.services.accounts import volunteer_delete
from volunteers.user_admin import register as register_user_admin

register_user_admin()

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


class PhoneSearchMixin:
    phone_lookup = "phone"

    def get_search_results(self, request, queryset, search_term):
        phone = normalise_phone(search_term.strip())
        if phone:
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


@admin.register(LocalArea)
class LocalAreaAdmin(AreaAdmin):
    list_display = [
        "name",
        "municipality",
        "location_is_approximate",
        "member_count",
        "aed_count",
    ]
    list_filter = ["location_is_approximate", "municipality"]
    search_fields = ["name", "municipality__name"]
    list_select_related = ["municipality"]
    autocomplete_fields = ["municipality", "local_aeds"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).defer("municipality__area")
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name and match.url_name.endswith("_changelist"):
            qs = qs.annotate(
                _member_count=Count("members", distinct=True),
                _aed_count=Count("local_aeds", distinct=True),
            )
        return qs

    @admin.display(description=_("members"), ordering="_member_count")
    def member_count(self, obj):
        return getattr(obj, "_member_count", None)

    @admin.display(description=_("AEDs"), ordering="_aed_count")
    def aed_count(self, obj):
        return getattr(obj, "_aed_count", None)


class DeviceInline(admin.TabularInline):
    model = Device
    fields = ["platform", "token", "is_active", "last_seen_at", "created_at"]
    readonly_fields = ["platform", "token", "last_seen_at", "created_at"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("push token"))
    def token(self, obj):
        return mask_token(obj.push_token)


def mask_token(token: str) -> str:
    return f"{token[:8]}…{token[-4:]}" if len(token) > 16 else "…"


@admin.register(Volunteer)
class VolunteerAdmin(VettingAdminMixin, PhoneSearchMixin, GeoAdmin):
    list_display = [
        "name",
        "phone",
        "heart_runner",
        "corps",
        "is_available",
        "phone_verified",
        "location_freshness",
        "synthetic",
    ]
    list_filter = [
        SchemeFilter,
        "is_available",
        PhoneVerifiedFilter,
        LocationFreshnessFilter,
        "synthetic",
        "local_area",
    ]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    list_select_related = ["user", "local_area"]
    raw_id_fields = ["user"]
    autocomplete_fields = ["local_area"]
    readonly_fields = ["location_freshness", "created_at", "updated_at"]
    inlines = [DeviceInline]
    ordering = ["-pk"]
    sortable_by = ["phone"]  # indexed; other sorts would scan the table
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    fieldsets = [
        (None, {"fields": ["user", "phone", "phone_verified_at", "date_of_birth"]}),
        (
            _("Schemes"),
            {"fields": ["is_heart_runner", "local_area", "first_aid_course_on", "is_available"]},
        ),
        (
            _("Location"),
            {
                "fields": [
                    "location_freshness",
                    "location",
                    "location_updated_at",
                    "location_accuracy_m",
                ]
            },
        ),
        (_("Record"), {"fields": ["synthetic", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("local_area__area", "local_area__village_point", "location")
        )

    @admin.display(description=_("name"))
    def name(self, obj):
        return obj.user.get_full_name() or obj.user.get_username()

    @admin.display(description=_("Hjerteløber"), boolean=True)
    def heart_runner(self, obj):
        return obj.is_heart_runner

    @admin.display(description=_("corps"))
    def corps(self, obj):
        return obj.local_area.name if obj.local_area_id else "–"

    @admin.display(description=_("phone verified"), boolean=True)
    def phone_verified(self, obj):
        return obj.phone_verified_at is not None

    @admin.display(description=_("location"))
    def location_freshness(self, obj):
        return freshness_badge(obj.location_updated_at, obj.location_accuracy_m)

    def delete_model(self, request, obj):
        """Erase the account, as the app's own deletion does (not only the volunteer row)."""
        volunteer_delete(volunteer=obj)

    def delete_queryset(self, request, queryset):
        """The bulk action: each selected account erased, all of them or none."""
        with transaction.atomic():
            for volunteer in queryset.select_related("user"):
                volunteer_delete(volunteer=volunteer)


@admin.register(Device)
class DeviceAdmin(PhoneSearchMixin, admin.ModelAdmin):
    phone_lookup = "volunteer__phone"
    list_display = ["volunteer", "platform", "token", "is_active", "last_seen_at", "created_at"]
    list_filter = ["platform", "is_active"]
    search_fields = ["=push_token", "volunteer__user__username"]
    list_select_related = ["volunteer__user"]
    raw_id_fields = ["volunteer"]
    readonly_fields = ["last_seen_at", "created_at"]
    ordering = ["-pk"]
    sortable_by = []
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).defer("volunteer__location")

    @admin.display(description=_("push token"))
    def token(self, obj):
        return mask_token(obj.push_token)


class WantsCallFilter(admin.SimpleListFilter):
    """The follow-up list: volunteers who asked to be called and have not been yet."""

    title = _("follow-up")
    parameter_name = "follow_up"

    def lookups(self, request, model_admin):
        return [("pending", _("Call requested, not handled"))]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(wants_call=True, handled=False)
        return queryset


@admin.register(Debrief)
class DebriefAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "volunteer_name",
        "volunteer_phone",
        "outcome",
        "wants_call",
        "handled",
    ]
    list_filter = [WantsCallFilter, "wants_call", "handled", "outcome"]
    list_select_related = ["volunteer__user"]
    readonly_fields = ["volunteer", "alert", "outcome", "comment", "wants_call", "created_at"]
    fields = [*readonly_fields, "handled", "handled_at", "handled_by"]
    raw_id_fields = ["handled_by"]
    actions = ["mark_handled"]
    date_hierarchy = "created_at"

    @admin.display(description=_("name"))
    def volunteer_name(self, obj):
        return obj.volunteer.user.get_full_name()

    @admin.display(description=_("phone"))
    def volunteer_phone(self, obj):
        return str(obj.volunteer.phone)

    @admin.action(description=_("Mark as handled (called)"))
    def mark_handled(self, request, queryset):
        count = debriefs_mark_handled(
            debrief_ids=queryset.values_list("pk", flat=True), user=request.user
        )
        self.message_user(request, _("%(n)d marked as handled.") % {"n": count})

    def has_add_permission(self, request):
        return False


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["volunteer", "kind", "version", "accepted_at"]
    list_filter = ["kind", "version"]
    raw_id_fields = ["volunteer"]
    readonly_fields = ["volunteer", "kind", "version", "accepted_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
