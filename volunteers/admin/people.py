"""Volunteers and their devices. A volunteer's phone number, live position and push tokens are
shown in full only to staff with the permission for each (config.masking), and a search by
phone number or token only works for them. Deleting a volunteer erases the account as the app's
own deletion does (volunteers.services.accounts.volunteer_delete); deleting a device revokes the
app session that registered it, as the app's own removal of a device does
(volunteers.services.devices.device_delete).

There may be a million volunteers: the changelists order by primary key (an index), never count
the whole table exactly, load no polygons, and search phone numbers by exact E.164 value.
"""

from django.contrib import admin
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from config.geoadmin import GeoAdmin
from config.masking import MaskedFieldsMixin, mask_phone, mask_position, mask_token
from volunteers.admin.common import (
    PHONE_PERMISSION,
    EstimatedCountPaginator,
    LocationFreshnessFilter,
    PhoneSearchMixin,
    PhoneVerifiedFilter,
    SchemeFilter,
    freshness_badge,
)
from volunteers.models import Device, Volunteer
from volunteers.services.accounts import volunteer_delete
from volunteers.services.devices import device_delete

POSITION_PERMISSION = "volunteers.view_live_position"
TOKEN_PERMISSION = "volunteers.view_push_token"  # noqa: S105 (a name)


class DeviceInline(MaskedFieldsMixin, admin.TabularInline):
    model = Device
    masked_fields = {"push_token": (TOKEN_PERMISSION, mask_token)}
    fields = ["platform", "push_token", "is_active", "last_seen_at", "created_at"]
    readonly_fields = ["platform", "push_token", "last_seen_at", "created_at"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Volunteer)
class VolunteerAdmin(MaskedFieldsMixin, PhoneSearchMixin, GeoAdmin):
    masked_fields = {
        "phone": (PHONE_PERMISSION, mask_phone),
        "location": (POSITION_PERMISSION, mask_position),
    }
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

    def get_sortable_by(self, request):
        # The phone number is indexed; other sorts would scan the table. Sorting by a masked
        # number would still tell numbers apart, so only for those who may see them.
        return ["phone"] if request.user.has_perm(PHONE_PERMISSION) else []

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
        volunteer_delete(volunteer=obj, erased_by=request.user)

    def delete_queryset(self, request, queryset):
        """The bulk action: each selected account erased, all of them or none."""
        with transaction.atomic():
            for volunteer in queryset.select_related("user"):
                volunteer_delete(volunteer=volunteer, erased_by=request.user)


@admin.register(Device)
class DeviceAdmin(MaskedFieldsMixin, PhoneSearchMixin, admin.ModelAdmin):
    masked_fields = {"push_token": (TOKEN_PERMISSION, mask_token)}
    phone_lookup = "volunteer__phone"
    list_display = [
        "volunteer",
        "platform",
        "push_token",
        "is_active",
        "last_seen_at",
        "created_at",
    ]
    list_filter = ["platform", "is_active"]
    search_fields = ["=push_token", "volunteer__user__username"]
    list_select_related = ["volunteer__user"]
    raw_id_fields = ["volunteer"]
    # Not the app session (auth_token): a list of every session is no one's business here.
    fields = ["volunteer", "platform", "push_token", "is_active", "last_seen_at", "created_at"]
    readonly_fields = ["last_seen_at", "created_at"]
    ordering = ["-pk"]
    sortable_by: list[str] = []
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).defer("volunteer__location")

    def delete_model(self, request, obj):
        """Forget the device and revoke the app session that registered it, as the app does."""
        device_delete(volunteer=obj.volunteer, device_id=obj.pk)

    def delete_queryset(self, request, queryset):
        """The bulk action: each selected device forgotten and its session revoked, all or none."""
        with transaction.atomic():
            for device in queryset.select_related("volunteer"):
                device_delete(volunteer=device.volunteer, device_id=device.pk)
