"""The vetting part of the volunteers' admin (mixed into VolunteerAdmin): approve or withdraw
approval, see the approval and the position-jump flags, and filter by them. A volunteer an
administrator creates here (a corps member, typically) is approved at once.

Who the policy then lets be alerted: volunteers.models.dispatchable.Vetting.
"""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from volunteers.services.vetting import volunteers_approval_withdraw, volunteers_approve

VETTING_FIELDS = ["approved_at", "approved_by", "location_jumps", "location_jump_at"]


class ApprovalFilter(admin.SimpleListFilter):
    title = _("approval")
    parameter_name = "approval"

    def lookups(self, request, model_admin):
        return [
            ("pending", _("Awaiting approval")),
            ("approved", _("Approved")),
            ("jumps", _("Flagged for position jumps")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(approved_at__isnull=True)
        if self.value() == "approved":
            return queryset.filter(approved_at__isnull=False)
        if self.value() == "jumps":
            return queryset.filter(location_jumps__gt=0)
        return queryset


class VettingAdminMixin:
    """Adds the vetting fieldset, column, filter and actions to the volunteers' admin."""

    actions = ["approve", "withdraw_approval"]

    def get_fieldsets(self, request, obj=None):
        return [*super().get_fieldsets(request, obj), (_("Vetting"), {"fields": VETTING_FIELDS})]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *VETTING_FIELDS]

    def get_list_display(self, request):
        return [*super().get_list_display(request), "approved"]

    def get_list_filter(self, request):
        return [ApprovalFilter, *super().get_list_filter(request)]

    @admin.display(description=_("approved"), boolean=True)
    def approved(self, obj):
        return obj.approved_at is not None

    def save_model(self, request, obj, form, change):
        """Created by an administrator (a corps member, typically): approved by them."""
        if not change and obj.approved_at is None:
            obj.approved_at, obj.approved_by = timezone.now(), request.user
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Approve for alerts (and clear position-jump flags)"))
    def approve(self, request, queryset):
        count = volunteers_approve(
            volunteer_ids=queryset.values_list("pk", flat=True), approved_by=request.user
        )
        self.message_user(
            request,
            ngettext("%(n)d volunteer approved.", "%(n)d volunteers approved.", count)
            % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Withdraw approval"))
    def withdraw_approval(self, request, queryset):
        count = volunteers_approval_withdraw(volunteer_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext(
                "Approval withdrawn for %(n)d volunteer.",
                "Approval withdrawn for %(n)d volunteers.",
                count,
            )
            % {"n": count},
            messages.SUCCESS,
        )
