"""The simulator's outputs: the JSON (docs/simulation.json), the SVG plots and the Markdown
report (docs/simulation.md), and the rule that says which policy the figures support."""

from dataclasses import asdict

from django.utils.translation import gettext as _

from amk.insight.charts import bar_chart_svg, line_chart_svg
from amk.insight.simulation.params import Behaviour, Clinical, Ems
from amk.insight.simulation.run import CURVE_MINUTES, RunResult
from amk.insight.simulation.survival import REFERENCE as SURVIVAL_REFERENCE

# Policies this close to the best (expected lives a year in the region) count as as good.
SUPPORT_MARGIN_LIVES = 1.0

REFERENCES = [
    "van den Berg PL, Henderson SG, Li H, Dicker B, Jagtenberg CJ. Simulation of phased alerting "
    "of community first responders for cardiac arrest. PLOS One 2026;21(3):e0343762. "
    "doi:10.1371/journal.pone.0343762",
    "van den Berg PL, Henderson SG, Jagtenberg CJ, Li H. Modeling emergency medical service "
    "volunteer response. Management Science 2025",
    SURVIVAL_REFERENCE,
    "Khalemsky M, Khalemsky A, Lankenau S, et al. Predictive dispatch of volunteer first "
    "responders: algorithm development and validation. JMIR Mhealth Uhealth 2023;11:e41551",
]


def supported(figures: dict[str, dict]) -> str:
    """The policy the figures support: of those within ``SUPPORT_MARGIN_LIVES`` lives a year of
    the best, the one that asks least of the volunteers (alerts per volunteer per month, to two
    decimals), then the one with the higher expected survival."""
    best = max(f["lives_per_year_vs_ems_only"] for f in figures.values())
    close = [
        k
        for k, f in figures.items()
        if best - f["lives_per_year_vs_ems_only"] <= SUPPORT_MARGIN_LIVES
    ]
    return min(
        close,
        key=lambda k: (
            round(figures[k]["alerts_per_volunteer_per_month"], 2),
            -figures[k]["expected_survival"],
        ),
    )


def report_json(
    result: RunResult,
    *,
    validation: dict,
    behaviour: Behaviour,
    clinical: Clinical,
    ems: Ems,
    source: str,
    volunteers: int,
    aeds: int,
) -> dict:
    closed = validation["closed_form"]
    return {
        "validation": {
            "statistic": closed["statistic"],
            "tolerance": closed["tolerance"],
            "passed": closed["passed"],
            "closed_form": closed,
            "plos_direction": validation["plos_direction"],
        },
        "policies": result.figures,
        "supported_policy": supported(result.figures),
        "first_arrival_curves": {"minutes": CURVE_MINUTES, **result.curves},
        "ems_only_survival": result.ems_only_survival,
        "runtime_s": result.runtime_s,
        "incidents": result.incidents,
        "region": {"incidents_source": source, "volunteers": volunteers, "aeds": aeds},
        "assumptions": {
            "behaviour": asdict(behaviour),
            "clinical": asdict(clinical),
            "ems": {
                "default_median_s": ems.default_median_s,
                "default_iqr_s": ems.default_iqr_s,
                "by_municipality": ems.by_municipality,
            },
        },
        "references": REFERENCES,
    }


def charts(figures: dict[str, dict], curves: dict[str, list[float]]) -> dict[str, str]:
    """The plots, by file name: SVG strings."""
    keys = list(figures)
    labels = [str(i + 1) for i in range(len(keys))]

    def series(field: str, scale: float = 1.0) -> list[float]:
        return [round(figures[k][field] * scale, 2) for k in keys]

    return {
        "simulation-survival.svg": bar_chart_svg(
            _("Expected survival (%)"),
            labels,
            {_("survival"): series("expected_survival", 100)},
            "%",
        ),
        "simulation-before-ems.svg": bar_chart_svg(
            _("Before the ambulance (% of incidents)"),
            labels,
            {
                _("a volunteer"): series("volunteer_before_ems_share", 100),
                _("an AED"): series("aed_before_ems_share", 100),
            },
            "%",
        ),
        "simulation-load.svg": bar_chart_svg(
            _("Load per incident"),
            labels,
            {
                _("alerts"): series("alerts_per_incident"),
                _("redundant arrivals"): series("redundant_arrivals_per_incident"),
            },
        ),
        "simulation-first-arrival.svg": line_chart_svg(
            _("First volunteer on scene (share of incidents)"),
            CURVE_MINUTES,
            {figures[k]["name"]: curves[k] for k in keys},
            _("minutes from the alert"),
            _("share"),
        ),
    }


def chart_legend(figures: dict[str, dict]) -> list[tuple[str, str]]:
    """The bar charts number the policies: (number, name) in order."""
    return [(str(i + 1), f["name"]) for i, f in enumerate(figures.values())]
