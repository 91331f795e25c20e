"""The filters of the statistics page (a GET form)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from amk.insight.statistics import GROUPINGS, StatisticsFilter


class StatisticsForm(forms.Form):
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    centre = forms.ChoiceField(label=_("Dispatch centre"), required=False)
    dispatcher = forms.ChoiceField(label=_("Dispatcher"), required=False)
    municipality = forms.ChoiceField(label=_("Municipality"), required=False)
    local_area = forms.ChoiceField(label=_("Local area"), required=False)
    group_by = forms.ChoiceField(
        label=_("Per"), required=False, choices=[(k, v) for k, v in GROUPINGS.items()]
    )

    def __init__(self, *args, choices: dict[str, list[tuple[str, str]]], **kwargs):
        super().__init__(*args, **kwargs)
        everyone = [("", _("All"))]
        for name, options in choices.items():
            self.fields[name].choices = everyone + options

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def statistics_filter(self) -> StatisticsFilter:
        data = self.cleaned_data
        return StatisticsFilter(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            centre=data.get("centre") or "",
            dispatcher_id=int(data["dispatcher"]) if data.get("dispatcher") else None,
            municipality_code=data.get("municipality") or "",
            local_area_id=int(data["local_area"]) if data.get("local_area") else None,
        )

    def grouping(self) -> str:
        return self.cleaned_data.get("group_by") or "month"


class CoverageForm(forms.Form):
    """The coverage layer's hour: empty for now, else a local hour of day."""

    hour = forms.IntegerField(label=_("Hour of day"), required=False, min_value=0, max_value=23)
