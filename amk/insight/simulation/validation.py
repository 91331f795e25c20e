"""Checks the simulator can fail (docs/simulation.md, "Validation").

1. The closed form of the Poisson model (van den Berg PL, Henderson SG, Jagtenberg CJ, Li H.
   Modeling emergency medical service volunteer response. Management Science 2025): volunteers
   a homogeneous Poisson process of density λ per km², each accepting with probability p (a
   thinning, so the acceptors are Poisson with density λp), the distance D to the nearest
   acceptor has P(D > r) = exp(−λpπr²), and with a constant answer delay δ and speed v along a
   way ``detour`` times the straight line the first arrival T = δ + D·detour/v has
   P(T ≤ t) = 1 − exp(−λpπ((t − δ)v/detour)²) for t ≥ δ. The simulated first arrivals must
   match it within the Kolmogorov-Smirnov 95 % critical value 1.36/√n; a density 25 % off
   (the negative control) must not.
2. The direction of van den Berg et al. (PLOS One 2026): with 30 volunteers uniformly within
   1 km, "alert 7 and replace each who drops out" sends fewer alerts than "alert all 30", with
   survival within ``SURVIVAL_MARGIN`` of it.
"""

import math
from dataclasses import replace

import numpy as np

from alerts.models import DispatchPolicy
from amk.insight.simulation.geometry import Neighbourhood
from amk.insight.simulation.model import Draws, draws_make, simulate
from amk.insight.simulation.params import Behaviour, Clinical, Ems
from amk.insight.simulation.policies import SimPolicy, sim_policy

KS_COEFFICIENT = 1.36  # the 95 % critical value of the one-sample KS statistic, × 1/√n
SURVIVAL_MARGIN = 0.01  # one percentage point


def disc_neighbourhood(
    rng: np.random.Generator,
    n: int,
    *,
    radius_m: float,
    density_per_km2: float | None = None,
    count: int | None = None,
) -> Neighbourhood:
    """n incidents, each with volunteers uniform in a disc around it: a Poisson number of
    them at ``density_per_km2``, or exactly ``count``. No AEDs."""
    area_km2 = math.pi * (radius_m / 1000) ** 2
    counts = rng.poisson(density_per_km2 * area_km2, n) if count is None else np.full(n, count)
    k = int(counts.max(initial=0))
    distance = radius_m * np.sqrt(rng.random((n, k)))
    distance[np.arange(k)[None, :] >= counts[:, None]] = np.inf
    distance.sort(axis=1)
    return Neighbourhood(
        distance_m=distance,
        aed_leg_m=np.full((n, k, 0), np.inf),
        aed_to_patient_m=np.full((n, 0), np.inf),
        aed_open=np.zeros((n, 0), dtype=bool),
    )


def first_arrival_cdf(
    t_s: np.ndarray,
    *,
    density_per_km2: float,
    p_accept: float,
    delay_s: float,
    speed_mps: float,
    detour: float,
) -> np.ndarray:
    """The closed form: P(first acceptor's arrival ≤ t)."""
    reach_km = np.maximum(np.asarray(t_s) - delay_s, 0.0) * speed_mps / detour / 1000.0
    return 1.0 - np.exp(-density_per_km2 * p_accept * math.pi * reach_km**2)


def ks_statistic(sample: np.ndarray, cdf: np.ndarray) -> float:
    """sup |F_n − F| for a sorted sample (inf: never) and the closed form at its points."""
    n = len(sample)
    i = np.arange(1, n + 1)
    finite = np.isfinite(sample)
    upper = np.where(finite, i / n - cdf, 0.0)
    lower = np.where(finite, cdf - (i - 1) / n, 0.0)
    return float(max(upper.max(initial=0.0), lower.max(initial=0.0)))


def _all_at_once(count: int, radius_m: int) -> SimPolicy:
    return sim_policy(
        DispatchPolicy(
            app_volunteers_per_wave=count, max_waves=1, radius_m=radius_m, max_radius_m=radius_m
        ),
        name=f"alert all {count}",
    )


def _no_ems(n: int) -> np.ndarray:
    return np.full(n, np.inf)


def closed_form_check(*, n: int = 10_000, seed: int = 16, density_per_km2: float = 20.0) -> dict:
    """Simulate first arrivals on a uniform Poisson density and compare with the closed form."""
    rng = np.random.default_rng(seed)
    radius_m, speed, delay, p = 2000, 2.5, 60.0, 0.35
    behaviour = Behaviour(
        p_accept=p,
        answer_median_s=delay,
        answer_sigma=0.0,
        speed_intercept_mps=speed,
        speed_per_km_mps=0.0,
        speed_min_mps=speed,
        speed_max_mps=speed,
    )
    hood = disc_neighbourhood(rng, n, radius_m=radius_m, density_per_km2=density_per_km2)
    k = hood.distance_m.shape[1]
    draws = draws_make(
        rng,
        shape=(n, k),
        behaviour=behaviour,
        reachable_share=np.ones(n),
        ems_median_s=_no_ems(n),
        ems_sigma=np.zeros(n),
    )
    outcome = simulate(
        _all_at_once(k, radius_m),
        hood,
        draws,
        behaviour=behaviour,
        clinical=Clinical(stop_alerting_at_ems=False),
    )
    sample = np.sort(outcome.first_arrival_s)
    common = {
        "p_accept": p,
        "delay_s": delay,
        "speed_mps": speed,
        "detour": behaviour.detour_factor,
    }
    statistic = ks_statistic(
        sample, first_arrival_cdf(sample, density_per_km2=density_per_km2, **common)
    )
    wrong = ks_statistic(
        sample, first_arrival_cdf(sample, density_per_km2=density_per_km2 * 1.25, **common)
    )
    tolerance = KS_COEFFICIENT / math.sqrt(n)
    return {
        "test": "Kolmogorov-Smirnov, simulated first arrival vs the Poisson model's closed form",
        "n": n,
        "density_per_km2": density_per_km2,
        "p_accept": p,
        "delay_s": delay,
        "speed_mps": speed,
        "detour_factor": behaviour.detour_factor,
        "statistic": round(statistic, 5),
        "tolerance": round(tolerance, 5),
        "passed": statistic <= tolerance,
        "negative_control": {
            "density_per_km2": density_per_km2 * 1.25,
            "statistic": round(wrong, 5),
            "rejected": wrong > tolerance,
        },
    }


def plos_direction_check(*, n: int = 20_000, seed: int = 2026) -> dict:
    """30 volunteers within 1 km: replace-7 against alert-all-30, same draws."""
    rng = np.random.default_rng(seed)
    behaviour, clinical = Behaviour(), Clinical()
    hood = disc_neighbourhood(rng, n, radius_m=1000, count=30)
    default = Ems()  # the ambulance as by default in the simulator
    draws: Draws = draws_make(
        rng,
        shape=(n, 30),
        behaviour=behaviour,
        reachable_share=np.ones(n),
        ems_median_s=np.full(n, default.default_median_s),
        ems_sigma=np.full(n, default.sigma(default.default_median_s, default.default_iqr_s)),
    )
    everyone = _all_at_once(30, 1000)
    seven = replace(
        sim_policy(
            DispatchPolicy(
                mode=DispatchPolicy.Mode.REPLACE,
                outstanding_target=7,
                radius_m=1000,
                max_radius_m=1000,
            )
        ),
        name="alert 7, replace each who drops out",
    )
    a = simulate(seven, hood, draws, behaviour=behaviour, clinical=clinical)
    b = simulate(everyone, hood, draws, behaviour=behaviour, clinical=clinical)
    alerts_a, alerts_b = float(a.alerts.mean()), float(b.alerts.mean())
    survival_a, survival_b = float(a.survival.mean()), float(b.survival.mean())
    return {
        "test": "PLOS One 2026 direction: 30 volunteers within 1 km",
        "n": n,
        "policies": [seven.name, everyone.name],
        "alerts_per_incident": [round(alerts_a, 2), round(alerts_b, 2)],
        "survival": [round(survival_a, 4), round(survival_b, 4)],
        "margin": SURVIVAL_MARGIN,
        "passed": alerts_a < alerts_b and abs(survival_a - survival_b) <= SURVIVAL_MARGIN,
    }
