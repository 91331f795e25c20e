"""Admin for the territory (region, municipalities, postcodes, gazetteer) and incidents, and the
admin site's titles. The map admins' base classes are in config.geoadmin."""

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletAdminWidget

from alerts.models import DispatchPolicy
from alerts.selectors.policy import policy_from_snapshot
from amk.models.accounts import LoginEvent
from amk.models.incident import Incident
from amk.models.territory import Municipality, Place, Postcode, Region
from config.admin_records import ReadOnlyAdmin
from config.geoadmin import AreaAdmin, GeoAdmin

admin.site.site_header = _("Hjertealarm – administration")
admin.site.site_title = _("Hjertealarm administration")
admin.site.index_title = _("Volunteers, defibrillators and territory")


@admin.register(Region)
class RegionAdmin(AreaAdmin):
    list_display = ["code", "name", "municipality_count"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_municipalities=Count("municipalities"))

    @admin.display(description=_("municipalities"), ordering="n_municipalities")
    def municipality_count(self, obj):
        return obj.n_municipalities


@admin.register(Municipality)
class MunicipalityAdmin(AreaAdmin):
    list_display = ["code", "name", "region"]
    list_filter = ["region"]
    search_fields = ["code", "name"]
    list_select_related = ["region"]
    list_per_page = 100

    def get_queryset(self, request):
        return super().get_queryset(request).defer("region__area")


@admin.register(Postcode)
class PostcodeAdmin(AreaAdmin):
    list_display = ["number", "name"]
    search_fields = ["number", "name"]
    list_per_page = 100


class InServiceRegionFilter(admin.SimpleListFilter):
    title = _("region")
    parameter_name = "region"

    def lookups(self, request, model_admin):
        return [(r.code, r.name) for r in Region.objects.defer("area").order_by("code")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(municipality__region_id=self.value())
        return queryset


@admin.register(Place)
class PlaceAdmin(GeoAdmin):
    list_display = ["name", "municipality", "coordinates"]
    list_filter = [InServiceRegionFilter]
    search_fields = ["name", "municipality__name"]
    list_select_related = ["municipality"]
    autocomplete_fields = ["municipality"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("municipality__area")

    @admin.display(description=_("coordinates (lat, lon)"))
    def coordinates(self, obj):
        return f"{obj.point.y:.5f}, {obj.point.x:.5f}"


@admin.register(Incident)
class IncidentAdmin(GeoAdmin):
    """Incidents are created and ended in the dispatcher console; the admin only views them."""

    list_display = ["id", "created_at", "state", "municipality", "address", "created_by"]
    list_display_links = ["id", "created_at"]
    list_filter = ["state", InServiceRegionFilter]
    search_fields = ["=id", "address"]
    list_select_related = ["municipality", "created_by"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    modifiable = False
    fields = [
        "state",
        "location_map",
        "address",
        "municipality",
        "note",
        "created_by",
        "created_at",
        "updated_at",
        "closed_at",
        "policy_in_force",
    ]
    readonly_fields = fields

    @property
    def media(self):
        # The view-only form has no widgets, so the map's assets are added here.
        return LeafletAdminWidget().media + super().media

    def get_queryset(self, request):
        return super().get_queryset(request).defer("municipality__area")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("dispatch policy in force"))
    def policy_in_force(self, obj):
        """The copy of the policy the incident keeps to its end, with the admin's labels."""
        if not obj.dispatch_policy:
            return _("None recorded (created before policies were copied onto incidents)")
        policy = policy_from_snapshot(obj.dispatch_policy)
        rows = []
        for field in DispatchPolicy._meta.concrete_fields:
            if field.attname not in obj.dispatch_policy:
                continue
            value = getattr(policy, field.attname)
            if field.choices:
                value = getattr(policy, f"get_{field.attname}_display")()
            rows.append((str(field.verbose_name).capitalize(), value))
        return format_html(
            '<table class="policy-in-force">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    @admin.display(description=_("location"))
    def location_map(self, obj):
        widget = self._get_map_widget(obj._meta.get_field("location"), LeafletAdminWidget)()
        return widget.render("location", obj.location, attrs={"id": "id_location"})


@admin.register(LoginEvent)
class LoginEventAdmin(ReadOnlyAdmin):
    """The login audit: read only (written by amk.receivers and amk.console.sessions)."""

    list_display = ["at", "username", "outcome", "ip", "from_dispatch_network"]
    list_filter = ["outcome", "from_dispatch_network", "at"]
    search_fields = ["username", "ip"]
    date_hierarchy = "at"
    fields = ["at", "user", "username", "outcome", "ip", "from_dispatch_network", "user_agent"]
    readonly_fields = fields
    list_select_related = ["user"]
