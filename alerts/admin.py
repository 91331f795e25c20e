"""Admin for dispatch: the policy is edited here; alerts, deliveries and their attempts (every
hand-over to a provider) and the SMS received with the answers they got are a read-only
record. Phone numbers and push tokens are masked for staff without the permission to see them
(config.masking)."""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.models import (
    Alert,
    AlertDelivery,
    AlertDeliveryAttempt,
    DispatchPolicy,
    InboundMessage,
    OutboxMessage,
)
from config.admin_records import ReadOnlyAdmin
from config.masking import (
    MaskedFieldsMixin,
    mask_phone,
    mask_phones_in,
    mask_recipient,
    masked_name,
)

# The permissions that show a volunteer's phone number and push tokens (volunteers.models).
PHONE_PERMISSION = "volunteers.view_phone_number"
TOKEN_PERMISSION = "volunteers.view_push_token"  # noqa: S105 (a name)


@admin.register(DispatchPolicy)
class DispatchPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "is_active",
        "mode",
        "app_volunteers_per_wave",
        "radius_m",
        "max_radius_m",
        "target_accepted",
        "travel_speed_mps",
        "escalate_after_s",
        "updated_at",
    ]
    list_filter = ["is_active"]
    fieldsets = [
        (
            None,
            {
                "fields": ["name", "is_active", "mode"],
                "description": _(
                    "The active policy is copied onto each new incident: a change applies to "
                    "incidents created from now on, while running incidents keep the policy "
                    "they started with (shown on each incident)."
                ),
            },
        ),
        (
            _("Who is alerted"),
            {
                "fields": [
                    "app_volunteers_per_wave",
                    "outstanding_target",
                    "radius_m",
                    "location_max_age_s",
                    "acceptance_max_distance_m",
                    "cooldown_after_incident_s",
                ]
            },
        ),
        (
            _("Escalation"),
            {
                "fields": [
                    "target_accepted",
                    "release_surplus_after_s",
                    "escalate_after_s",
                    "radius_step_m",
                    "max_radius_m",
                    "max_waves",
                ]
            },
        ),
        (
            _("AEDs"),
            {
                "fields": [
                    "aed_search_radius_m",
                    "travel_speed_mps",
                    "detour_factor",
                    "aed_max_arrival_s",
                ]
            },
        ),
        (
            _("Who may be dispatched"),
            {
                "fields": [
                    "require_approval",
                    "require_course_within_days",
                    "exclude_after_location_jumps",
                ]
            },
        ),
        (_("Channels"), {"fields": ["push_receipt_timeout_s", "sms_validity_s"]}),
        (_("When things end"), {"fields": ["alert_valid_s", "auto_close_after_s"]}),
    ]


class DeliveryInline(MaskedFieldsMixin, admin.TabularInline):
    model = AlertDelivery
    masked_fields = {"last_error": (PHONE_PERMISSION, mask_phones_in)}
    fields = [
        "channel",
        "kind",
        "state",
        "attempts",
        "provider_message_id",
        "last_error",
        "sent_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "incident",
        "volunteer_id",
        "pool",
        "wave",
        "state",
        "role",
        "aed",
        "distance_m",
        "created_at",
    ]
    list_filter = ["state", "role", "pool"]
    list_select_related = ["incident__municipality", "aed"]
    raw_id_fields = ["incident", "volunteer", "aed"]
    exclude = ["volunteer_location"]
    inlines = [DeliveryInline]
    show_full_result_count = False
    date_hierarchy = "created_at"


class AttemptInline(MaskedFieldsMixin, admin.TabularInline):
    """Every hand-over of the delivery to its provider, and what came of it."""

    masked_fields = {"error": (PHONE_PERMISSION, mask_phones_in)}
    model = AlertDeliveryAttempt
    fields = [
        "number",
        "claimed",
        "handed_over",
        "finished",
        "duration_ms",
        "outcome",
        "provider_message_id",
        "error",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # To the millisecond: the admin's own format stops at the minute.
    @admin.display(description=_("claimed"))
    def claimed(self, obj):
        return _precise(obj.claimed_at)

    @admin.display(description=_("handed to the provider"))
    def handed_over(self, obj):
        return _precise(obj.handed_over_at)

    @admin.display(description=_("answered"))
    def finished(self, obj):
        return _precise(obj.finished_at)


def _precise(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if moment else "–"


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(MaskedFieldsMixin, ReadOnlyAdmin):
    masked_fields = {"last_error": (PHONE_PERMISSION, mask_phones_in)}
    list_display = [
        "pk",
        "alert_id",
        "channel",
        "kind",
        "state",
        "attempts",
        "last_error",
        "updated_at",
    ]
    list_filter = ["state", "channel", "kind"]
    search_fields = ["provider_message_id"]
    inlines = [AttemptInline]
    show_full_result_count = False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(MaskedFieldsMixin, ReadOnlyAdmin):
    masked_fields = {"recipient": ((PHONE_PERMISSION, TOKEN_PERMISSION), mask_recipient)}
    list_display = ["created_at", "channel", "recipient_short", "body"]
    list_filter = ["channel"]
    search_fields = ["recipient"]

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        if "recipient" in self.hidden_fields(request):
            return [masked_name("recipient") if f == "recipient_short" else f for f in shown]
        return shown

    @admin.display(description=_("recipient"))
    def recipient_short(self, obj):
        return obj.recipient[:24]


@admin.register(InboundMessage)
class InboundMessageAdmin(MaskedFieldsMixin, ReadOnlyAdmin):
    """Every SMS received on the alert number, how it was read and what it was answered."""

    masked_fields = {"from_phone": (PHONE_PERMISSION, mask_phone)}
    list_display = ["received_at", "from_phone", "body", "outcome", "alert_id", "reply"]
    list_filter = ["outcome"]
    search_fields = ["message_sid", "from_phone"]
    raw_id_fields = ["volunteer", "alert"]
    show_full_result_count = False
    date_hierarchy = "received_at"
