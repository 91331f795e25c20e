"""The base of every admin with a map: ``GeoAdmin`` (django-leaflet's widget, plus the static
municipality outlines so the map stays useful when no tile server can be reached) and
``AreaAdmin`` for large polygons."""

from django.forms import Media, Script
from django.templatetags.static import static
from leaflet.admin import LeafletGeoAdmin


class GeoAdmin(LeafletGeoAdmin):
    """Leaflet map widgets with offline municipality outlines."""

    @property
    def media(self):
        return super().media + Media(
            css={"all": [static("hjertealarm/admin.css")]},
            js=[
                Script(
                    "hjertealarm/map_outlines.js",
                    **{"data-outlines": static("geo/kommuner.geojson")},
                )
            ],
        )


class AreaAdmin(GeoAdmin):
    """Large polygons: never loaded for lists or autocompletes, only on the change form."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is None or not match.url_name or not match.url_name.endswith("_change"):
            qs = qs.defer("area")
        return qs
