"""The policy simulator's console page, for management (permission amk.view_statistics): pick
policies (the presets and the saved ones) and a number of incidents, and see the figures and
plots side by side. The run happens within the request, so the number is capped
(``SIMULATION_PAGE_MAX_INCIDENTS``); the command ``simulate_policies`` does the large runs."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.validators import MaxValueValidator
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from alerts.models import DispatchPolicy
from amk.insight.simulation.inputs import behaviour_fitted, ems_configured, region_load
from amk.insight.simulation.params import Clinical
from amk.insight.simulation.policies import SimPolicy, presets, sim_policy
from amk.insight.simulation.report import chart_legend, charts, supported
from amk.insight.simulation.run import run_policies

SOURCES = (
    ("auto", _("Past incidents if there are enough, else synthetic")),
    ("past", _("Past incidents")),
    ("synthetic", _("Synthetic, weighted by population")),
)


def _choices() -> list[tuple[str, str]]:
    saved = [(f"policy-{p.pk}", f"{p.name} ({_('saved')})") for p in DispatchPolicy.objects.all()]
    return [(key, policy.name) for key, policy in presets().items()] + saved


class SimulationForm(forms.Form):
    policies = forms.MultipleChoiceField(label=_("Policies"), widget=forms.CheckboxSelectMultiple)
    incidents = forms.IntegerField(label=_("Incidents"), min_value=100, initial=1000)
    source = forms.ChoiceField(label=_("Incidents from"), choices=SOURCES, initial="auto")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policies"].choices = _choices()
        self.fields["policies"].initial = list(presets())
        cap = settings.SIMULATION_PAGE_MAX_INCIDENTS
        self.fields["incidents"].validators.append(MaxValueValidator(cap))
        self.fields["incidents"].widget.attrs["max"] = cap

    def chosen(self) -> dict[str, SimPolicy]:
        keys = self.cleaned_data["policies"]
        known = presets()
        ids = [int(k.split("-", 1)[1]) for k in keys if k.startswith("policy-")]
        saved = {f"policy-{p.pk}": p for p in DispatchPolicy.objects.filter(pk__in=ids)}
        return {
            k: known[k] if k in known else sim_policy(saved[k])
            for k in keys
            if k in known or k in saved
        }


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
@permission_required("amk.view_statistics", raise_exception=True)
def policy_simulation(request):
    form = SimulationForm(request.POST or None)
    context: dict = {"form": form, "max_incidents": settings.SIMULATION_PAGE_MAX_INCIDENTS}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "amk/simulation.html", context, status=400)
        region = region_load(
            incidents=form.cleaned_data["incidents"], source=form.cleaned_data["source"]
        )
        if len(region.incident_xy) == 0 or len(region.volunteer_xy) == 0:
            form.add_error(
                None, _("There are no incidents or no volunteers with a position to simulate.")
            )
            return render(request, "amk/simulation.html", context, status=400)
        result = run_policies(
            region,
            form.chosen(),
            behaviour=behaviour_fitted(),
            clinical=Clinical(),
            ems=ems_configured(),
        )
        svgs = charts(result.figures, result.curves)
        context.update(
            result=result,
            rows=list(result.figures.values()),
            supported=result.figures[supported(result.figures)]["name"],
            legend=chart_legend(result.figures),
            # Built by amk.insight.charts, which escapes every text it draws.
            charts=[mark_safe(svg) for svg in svgs.values()],  # noqa: S308
            region=region,
        )
    return render(request, "amk/simulation.html", context)
