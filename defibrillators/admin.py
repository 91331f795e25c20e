"""Admin for the AED registry: the AEDs (expired ones flagged, those in use marked, their return
confirmed by an action), the runs of the periodic import, and the records alerts keeps about
AEDs (their uses, the messages to their contacts). The cabinet code is shown on the change form
only, never listed, and there only to staff with defibrillators.view_cabinet_code (masked
otherwise, with the raw source tags that may repeat it: config.masking). The owners' and
contacts' phone numbers, here and in the AED uses and notices, need
defibrillators.view_contact_phone."""

import datetime as dt

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from alerts.models import AedNotice, AedUse
from alerts.services.aed_uses import aeds_return_by_admin
from config.admin_records import ReadOnlyAdmin
from config.geoadmin import GeoAdmin
from config.masking import MaskedFieldsMixin, mask_code, mask_hidden, mask_phone, mask_phones_in
from defibrillators.models import EXPIRY_WARNING_DAYS, AedImportRun, Defibrillator

EXPIRY_WARNING = dt.timedelta(days=EXPIRY_WARNING_DAYS)
CODE_PERMISSION = "defibrillators.view_cabinet_code"
CONTACT_PERMISSION = "defibrillators.view_contact_phone"
CONFIRM_RETURNED = _("Confirm back in place (no longer in use)")


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
            ("soon", _("Expires within 30 days")),
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


class InUseFilter(admin.SimpleListFilter):
    title = _("in use")
    parameter_name = "in_use"

    def lookups(self, request, model_admin):
        return [("yes", _("In use (not confirmed back)")), ("no", _("Not in use"))]

    def queryset(self, request, queryset):
        match self.value():
            case "yes":
                return queryset.filter(in_use=True)
            case "no":
                return queryset.filter(in_use=False)
        return queryset


@admin.register(Defibrillator)
class DefibrillatorAdmin(MaskedFieldsMixin, GeoAdmin):
    masked_fields = {
        "cabinet_code": (CODE_PERMISSION, mask_code),
        "source_tags": (CODE_PERMISSION, mask_hidden),
        "owner_phone": (CONTACT_PERMISSION, mask_phone),
        "contact_phone": (CONTACT_PERMISSION, mask_phone),
    }
    # Never add cabinet_code to list_display, search_fields or list_filter: the changelist is
    # seen by more people than need the code, and a search would reveal it by trial.
    list_display = [
        "name",
        "address",
        "access",
        "status",
        "indoor",
        "opening_hours",
        "expiry",
        "in_use",
        "source",
        "synthetic",
    ]
    list_filter = [
        "access",
        "status",
        "source",
        "synthetic",
        IndoorFilter,
        ExpiryFilter,
        InUseFilter,
    ]
    search_fields = ["name", "address", "=source_id", "owner_name", "contact_name"]
    readonly_fields = ["created_at", "updated_at", "removed_from_source_at"]
    actions = ["confirm_returned"]
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
            {
                "fields": [
                    "battery_expires_on",
                    "pads_expire_on",
                    "owner_name",
                    "owner_phone",
                    "contact_name",
                    "contact_phone",
                ]
            },
        ),
        (
            _("Source"),
            {
                "fields": [
                    "source",
                    "source_id",
                    "source_tags",
                    "synthetic",
                    "removed_from_source_at",
                ]
            },
        ),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        qs = (
            super()
            .get_queryset(request)
            .annotate(
                in_use=Exists(AedUse.objects.filter(aed=OuterRef("pk"), ended_at__isnull=True))
            )
        )
        match = getattr(request, "resolver_match", None)
        if match is None or not match.url_name or not match.url_name.endswith("_change"):
            # The code (and the raw source tags, which may repeat it) stay out of lists.
            qs = qs.defer("cabinet_code", "source_tags")
        return qs

    @admin.display(description=_("next expiry"), ordering="battery_expires_on")
    def expiry(self, obj):
        """The earlier of the battery's and pads' dates, flagged red once passed (the AED is
        not assigned) and amber within EXPIRY_WARNING_DAYS."""
        expiry = obj.next_expiry
        if expiry is None:
            return "–"
        today = timezone.localdate()
        if expiry < today:
            return format_html(
                '<strong style="color:#b3261e">⚑ {} ({})</strong>', expiry, _("expired")
            )
        if expiry <= today + EXPIRY_WARNING:
            return format_html('<span style="color:#92400e">⚑ {}</span>', expiry)
        return expiry

    @admin.display(description=_("in use"), boolean=True, ordering="in_use")
    def in_use(self, obj):
        return obj.in_use

    @admin.action(description=CONFIRM_RETURNED, permissions=["change"])
    def confirm_returned(self, request, queryset):
        count = aeds_return_by_admin(
            aed_ids=list(queryset.values_list("pk", flat=True)), user=request.user
        )
        self.message_user(
            request,
            ngettext("%(count)d AED confirmed back.", "%(count)d AEDs confirmed back.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(AedImportRun)
class AedImportRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "status",
        "source",
        "rows",
        "current",
        "created",
        "updated",
        "unchanged",
        "removed",
        "skipped",
        "reason",
    ]
    list_filter = ["status"]
    date_hierarchy = "started_at"


@admin.register(AedUse)
class AedUseAdmin(MaskedFieldsMixin, ReadOnlyAdmin):
    masked_fields = {
        "ended_by_phone": (CONTACT_PERMISSION, mask_phone),
        "contact_phone": (CONTACT_PERMISSION, mask_phone),
    }
    list_display = ["aed", "alert", "taken_at", "collected_at", "ended_at", "ending", "ended_via"]
    list_filter = ["ending", "ended_via"]
    list_select_related = ["aed"]
    search_fields = ["aed__name", "=alert__incident__pk"]
    raw_id_fields = ["aed", "alert", "ended_by_user"]
    actions = ["confirm_returned"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("aed__cabinet_code", "aed__source_tags")

    def has_confirm_permission(self, request):
        """Who may change the AED registry may confirm an AED is back."""
        return request.user.has_perm("defibrillators.change_defibrillator")

    @admin.action(
        description=_("Confirm back in place (no longer in use)"), permissions=["confirm"]
    )
    def confirm_returned(self, request, queryset):
        count = aeds_return_by_admin(
            aed_ids=list(queryset.filter(ended_at__isnull=True).values_list("aed_id", flat=True)),
            user=request.user,
        )
        self.message_user(
            request,
            ngettext("%(count)d AED confirmed back.", "%(count)d AEDs confirmed back.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(AedNotice)
class AedNoticeAdmin(MaskedFieldsMixin, ReadOnlyAdmin):
    masked_fields = {
        "to": (CONTACT_PERMISSION, mask_phone),
        "last_error": (CONTACT_PERMISSION, mask_phones_in),
    }
    list_display = ["created_at", "kind", "aed", "state", "attempts", "sent_at", "last_error"]
    list_filter = ["kind", "state"]
    list_select_related = ["aed"]
    raw_id_fields = ["aed", "use"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("aed__cabinet_code", "aed__source_tags")
