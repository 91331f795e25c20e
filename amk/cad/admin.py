"""The admin of the CAD integration: systems, their API keys (issued, rotated, revoked; the key
is shown once), the incidents they created and the callbacks sent to them."""

from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from amk.cad.models import CadApiKey, CadCallback, CadIncident, CadSystem
from amk.cad.services.keys import (
    api_key_issue,
    api_key_replace,
    api_key_revoke,
    cad_system_callback_secret_rotate,
    cad_system_save,
)
from config.admin_records import ReadOnlyAdmin


def _show_key_once(request, key: CadApiKey, raw: str) -> None:
    messages.warning(
        request,
        gettext(
            "New API key for %(system)s (%(name)s): %(key)s. Copy it now: it is not shown again."
        )
        % {"system": key.system, "name": key.name, "key": raw},
    )


@admin.register(CadSystem)
class CadSystemAdmin(admin.ModelAdmin):
    list_display = ("name", "region", "is_active", "callback_url", "created_at")
    fields = ("name", "region", "is_active", "callback_url", "user", "callback_secret")
    readonly_fields = ("user", "callback_secret")
    actions = ("rotate_callback_secret",)

    def save_model(self, request, obj, form, change):
        cad_system_save(system=obj)

    @admin.action(description=_("New callback signing secret (give it to the CAD)"))
    def rotate_callback_secret(self, request, queryset):
        for system in queryset:
            secret = cad_system_callback_secret_rotate(system=system)
            messages.warning(
                request,
                gettext("New callback secret for %(system)s: %(secret)s")
                % {"system": system, "secret": secret},
            )


@admin.register(CadApiKey)
class CadApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "system", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("system",)
    fields = ("system", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("replace_keys", "revoke_keys")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "system") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        key, raw = api_key_issue(system=obj.system, name=obj.name)
        obj.pk, obj.prefix, obj.created_at = key.pk, key.prefix, key.created_at
        _show_key_once(request, key, raw)

    @admin.action(
        description=_("Rotate: issue a replacement key (the old stays valid until revoked)")
    )
    def replace_keys(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True).select_related("system"):
            new, raw = api_key_replace(key=key)
            _show_key_once(request, new, raw)

    @admin.action(description=_("Revoke the selected keys"))
    def revoke_keys(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)


@admin.register(CadIncident)
class CadIncidentAdmin(admin.ModelAdmin):
    list_display = ("cad_number", "system", "incident", "created_at")
    list_filter = ("system",)
    search_fields = ("cad_number",)
    readonly_fields = ("system", "cad_number", "incident", "created_address", "created_at")
    exclude = ("created_location",)

    def has_add_permission(self, request):
        return False


@admin.register(CadCallback)
class CadCallbackAdmin(ReadOnlyAdmin):
    list_display = (
        "event_id",
        "system",
        "incident",
        "state",
        "attempts",
        "last_status",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("state", "system")
    readonly_fields = [f.name for f in CadCallback._meta.fields]
