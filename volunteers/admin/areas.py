"""The 1-1-2 førstehjælper local areas: members and AEDs counted in the list, polygons only on the
change form."""

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from config.geoadmin import AreaAdmin
from volunteers.models import LocalArea


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
