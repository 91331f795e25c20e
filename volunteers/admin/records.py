"""Debriefs (the follow-up calls volunteers ask for) and consents: records the app writes."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from alerts.services.debriefs import debriefs_mark_handled
from config.masking import MaskedFieldsMixin, mask_phone
from volunteers.admin.common import PHONE_PERMISSION
from volunteers.models import Consent, Debrief


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
class DebriefAdmin(MaskedFieldsMixin, admin.ModelAdmin):
    masked_fields = {"volunteer__phone": (PHONE_PERMISSION, mask_phone)}
    list_display = [
        "created_at",
        "volunteer_name",
        "volunteer__phone",
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
