"""One run: the region's neighbourhoods, one set of draws, every policy on them, and the
figures of each (the table of docs/simulation.md and of the console page)."""

import time
from dataclasses import dataclass, field

import numpy as np

from amk.insight.simulation.geometry import neighbourhood
from amk.insight.simulation.inputs import Region
from amk.insight.simulation.model import Outcome, draws_make, simulate
from amk.insight.simulation.params import Behaviour, Clinical, Ems
from amk.insight.simulation.policies import SimPolicy
from amk.insight.simulation.survival import survival_probability

# Volunteers looked at per incident: enough for every policy here (the table reports how often
# a policy used them all, which would mean a cap bit).
CANDIDATES = 64
# The first-arrival curves: minutes from the alert.
CURVE_MINUTES = [float(m) for m in range(0, 21)]


@dataclass
class RunResult:
    figures: dict[str, dict] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    ems_only_survival: float = 0.0
    incidents: int = 0
    runtime_s: float = 0.0
    draws_s: float = 0.0


def _figures(
    outcome: Outcome, policy: SimPolicy, *, region: Region, volunteers: int, ems_only: float, k: int
) -> dict:
    n = len(outcome.survival)
    survival = float(outcome.survival.mean())
    alerts = float(outcome.alerts.mean())
    per_month = alerts * region.incidents_per_year / 12 / max(volunteers, 1)
    first = outcome.first_arrival_s[np.isfinite(outcome.first_arrival_s)]
    return {
        "name": policy.name,
        "incidents": n,
        "volunteer_before_ems_share": round(
            float((outcome.first_arrival_s < outcome.ems_s).mean()), 4
        ),
        "aed_before_ems_share": round(float((outcome.aed_arrival_s < outcome.ems_s).mean()), 4),
        "expected_survival": round(survival, 4),
        "survival_ci95": round(float(1.96 * outcome.survival.std() / np.sqrt(max(n, 1))), 4),
        "lives_per_year_vs_ems_only": round((survival - ems_only) * region.incidents_per_year, 1),
        "alerts_per_incident": round(alerts, 2),
        "accepted_per_incident": round(float(outcome.accepted.mean()), 2),
        "redundant_arrivals_per_incident": round(float(outcome.redundant.mean()), 2),
        "alerts_per_volunteer_per_month": round(per_month, 3),
        "median_first_arrival_min": round(float(np.median(first)) / 60, 2) if len(first) else None,
        "candidate_cap_reached_share": round(float((outcome.alerts >= k).mean()), 4),
    }


def run_policies(
    region: Region,
    policies: dict[str, SimPolicy],
    *,
    behaviour: Behaviour,
    clinical: Clinical,
    ems: Ems,
    seed: int = 16,
    reachable_share: float = 1.0,
) -> RunResult:
    """Every policy on the same incidents and draws; the runtime covers it all, from the
    neighbourhoods to the last figure (not the database reads)."""
    started = time.perf_counter()
    n = len(region.incident_xy)
    k = min(CANDIDATES, max(len(region.volunteer_xy), 1))
    hood = neighbourhood(
        incident_xy=region.incident_xy,
        incident_hour=region.incident_hour,
        volunteer_xy=region.volunteer_xy,
        aed_xy=region.aed_xy,
        aed_open_by_hour=region.aed_open_by_hour,
        k=k,
        volunteer_open_by_hour=region.volunteer_open_by_hour,
    )
    medians, sigmas = ems.arrays(region.municipality_codes)
    rng = np.random.default_rng(seed)
    draws_started = time.perf_counter()
    draws = draws_make(
        rng,
        shape=(n, k),
        behaviour=behaviour,
        reachable_share=np.full(n, reachable_share),
        ems_median_s=medians[region.incident_municipality],
        ems_sigma=sigmas[region.incident_municipality],
    )
    draws_s = time.perf_counter() - draws_started
    ems_only = float(
        survival_probability(
            clinical.collapse_to_alert_s + draws.ems_s,
            clinical.collapse_to_alert_s + draws.ems_s + clinical.arrival_to_shock_s,
            clinical.collapse_to_alert_s + draws.ems_s + clinical.ems_arrival_to_acls_s,
        ).mean()
    )
    result = RunResult(ems_only_survival=round(ems_only, 4), incidents=n)
    reference: np.ndarray | None = None
    for key, policy in policies.items():
        outcome = simulate(policy, hood, draws, behaviour=behaviour, clinical=clinical)
        figures = _figures(
            outcome,
            policy,
            region=region,
            volunteers=len(region.volunteer_xy),
            ems_only=ems_only,
            k=k,
        )
        # Against the first policy, incident by incident (the same draws): a paired difference.
        reference = outcome.survival if reference is None else reference
        diff = outcome.survival - reference
        figures["survival_diff_vs_first"] = round(float(diff.mean()), 5)
        figures["survival_diff_ci95"] = round(float(1.96 * diff.std() / np.sqrt(max(n, 1))), 5)
        result.figures[key] = figures
        minutes = outcome.first_arrival_s / 60
        result.curves[key] = [round(float((minutes <= m).mean()), 4) for m in CURVE_MINUTES]
    result.runtime_s = round(time.perf_counter() - started, 3)
    result.draws_s = round(draws_s, 4)
    return result


def draws_baseline_s(
    region: Region, *, behaviour: Behaviour, policies: int, seed: int = 16
) -> float:
    """The benchmark's baseline: one numpy pass generating the same random draws for every
    policy (the least any Monte Carlo of this size must do), timed in the same run."""
    n, k = len(region.incident_xy), min(CANDIDATES, max(len(region.volunteer_xy), 1))
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    for _ in range(policies):
        draws_make(
            rng,
            shape=(n, k),
            behaviour=behaviour,
            reachable_share=np.ones(n),
            ems_median_s=np.full(n, 480.0),
            ems_sigma=np.full(n, 0.5),
        )
    return round(time.perf_counter() - started, 4)
