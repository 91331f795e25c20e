"""Admin for the AED registry. The cabinet code is shown on the change form only, never listed."""

import datetime as dt

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.geoadmin import GeoAdmin
from defibrillators.models import Defibrillator

EXPIRY_WARNING = dt.timedelta(days=60)


class IndoorFilter(admin.SimpleListFilter):
    title = _("indoor")
    parameter_name = "indoor"

    def lookups(self, request, model_admin):
        return [("yes", _("Indoor")), ("no", _("Outdoor")), ("unknown", _("Unknown"))]

    def queryset(self, request, queryset):
        match self.value():
            case "yes":
                return queryset.filter(indoor=True)
            case "no":
                return queryset.filter(indoor=False)
            case "unknown":
                return queryset.filter(indoor__isnull=True)
        return queryset


class ExpiryFilter(admin.SimpleListFilter):
    title = _("battery and pads")
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [
            ("expired", _("Battery or pads expired")),
            ("soon", _("Expiring within 60 days")),
            ("unknown", _("Expiry not recorded")),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        match self.value():
            case "expired":
                return queryset.filter(
                    Q(battery_expires_on__lt=today) | Q(pads_expire_on__lt=today)
                )
            case "soon":
                soon = today + EXPIRY_WARNING
                return queryset.filter(
                    Q(battery_expires_on__range=(today, soon))
                    | Q(pads_expire_on__range=(today, soon))
                )
            case "unknown":
                return queryset.filter(battery_expires_on__isnull=True, pads_expire_on__isnull=True)
        return queryset


@admin.register(Defibrillator)
class DefibrillatorAdmin(GeoAdmin):
    # Never add cabinet_code to list_display, search_fields or list_filter: the changelist is
    # seen by more people than need the code, and a search would reveal it by trial.
    list_display = [
        "name",
        "address",
        "access",
        "status",
        "indoor",
        "opening_hours",
        "next_expiry",
        "source",
        "synthetic",
    ]
    list_filter = ["access", "status", "source", "synthetic", IndoorFilter, ExpiryFilter]
    search_fields = ["name", "address", "=source_id", "owner_name"]
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False
    list_per_page = 100
    fieldsets = [
        (None, {"fields": ["name", "status", "location", "address", "placement"]}),
        (
            _("Access"),
            {"fields": ["access", "opening_hours", "indoor", "floor", "cabinet_code"]},
        ),
        (
            _("Maintenance"),
            {"fields": ["battery_expires_on", "pads_expire_on", "owner_name", "owner_phone"]},
        ),
        (
            _("Source"),
            {"fields": ["source", "source_id", "source_tags", "synthetic"]},
        ),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is None or not match.url_name or not match.url_name.endswith("_change"):
            # The code (and the raw source tags, which may repeat it) stay out of lists.
            qs = qs.defer("cabinet_code", "source_tags")
        return qs

    @admin.display(description=_("next expiry"))
    def next_expiry(self, obj):
        dates = [d for d in (obj.battery_expires_on, obj.pads_expire_on) if d]
        return min(dates) if dates else None
