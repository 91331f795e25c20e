"""Forms of the dispatcher console."""

import re

from django import forms
from django.contrib.gis.geos import Point
from django.utils.translation import gettext_lazy as _

from amk.models.incident import Incident
from config.geography import within_denmark

# Decimal degrees, with a point or a comma as the decimal separator: "56.1567", "56,1567", "-3".
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
# Hemisphere letters and degree signs people paste along with the numbers.
_DECORATION = re.compile(r"[°º]|\b[NSEWØV]\b", re.IGNORECASE)


def parse_coordinates(text: str) -> Point:
    """A point from pasted coordinates, latitude first as maps show them: "56.1567, 10.2108".

    Tolerated: a comma or space between the numbers, decimal commas ("56,1567 10,2108"),
    degree signs and N/E letters. In Denmark latitudes (54.5-57.8) and longitudes (8-15.3) do
    not overlap, so "10.2108 56.1567" (longitude first, as GeoJSON writes it) is recognised and
    swapped; elsewhere the order is latitude, longitude.
    """
    numbers = _NUMBER.findall(_DECORATION.sub(" ", text))
    if len(numbers) != 2:
        raise forms.ValidationError(
            _("Give two numbers in decimal degrees, latitude first: 56.1567, 10.2108"),
            code="format",
        )
    first, second = (float(n.replace(",", ".")) for n in numbers)
    lat, lon = first, second
    if not within_denmark(lon=lon, lat=lat) and within_denmark(lon=first, lat=second):
        lat, lon = second, first
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise forms.ValidationError(
            _("Latitude must be between -90 and 90 and longitude between -180 and 180."),
            code="range",
        )
    return Point(lon, lat, srid=4326)


class CoordinatesField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        return parse_coordinates(value)


class IncidentForm(forms.Form):
    location = CoordinatesField(
        label=_("Coordinates"),
        help_text=_("Click the map, search for a place, or paste latitude, longitude."),
        error_messages={"required": _("Set the location: click the map or paste coordinates.")},
        widget=forms.TextInput(
            attrs={
                "placeholder": "56.15670, 10.21080",
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
    )
    address = forms.CharField(
        label=_("Address"),
        max_length=255,
        required=False,
        help_text=_("Sent to volunteers only after they accept."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For the console only; not sent to volunteers."),
    )
    exclusion_reasons = forms.MultipleChoiceField(
        label=_("Do not activate volunteers because"),
        choices=Incident.Exclusion.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class IncidentCloseForm(forms.Form):
    """Closing: optionally when the ambulance reached the patient, local time of day."""

    ems_arrived_at = forms.TimeField(
        label=_("Ambulance on scene at"),
        required=False,
        input_formats=["%H:%M", "%H.%M", "%H:%M:%S"],
        error_messages={"invalid": _("Give the ambulance's arrival as hours:minutes, e.g. 14:32.")},
        widget=forms.TimeInput(attrs={"type": "time", "autocomplete": "off"}),
    )
