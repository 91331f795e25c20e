"""The simulator's behavioural and clinical assumptions, each with its source or marked as an
assumption (docs/simulation.md lists them). Defaults can be replaced by values fitted from the
platform's own history (``inputs.behaviour_fitted``) and EMS times per municipality come from
settings (``SIMULATION_EMS_BY_MUNICIPALITY``).

Sources:
- van den Berg PL, Henderson SG, Li H, Dicker B, Jagtenberg CJ. Simulation of phased alerting
  of community first responders for cardiac arrest. PLOS One 2026;21(3):e0343762.
  doi:10.1371/journal.pone.0343762. Acceptance probabilities and response delays bootstrapped
  from 29,307 GoodSAM alerts (New Zealand, 2017-2020); a speed that grows linearly with the
  distance. Its figures could not be read offline here: the values below are assumptions in
  the ranges such studies report, not the paper's fitted values.
- Khalemsky M et al. JMIR Mhealth Uhealth 2023;11:e41551: volunteers' response rates of 17 %
  to 47 % in recent studies (the range our acceptance default sits in).
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Behaviour:
    """How alerted volunteers answer and travel (assumptions unless fitted)."""

    # Share of alerts accepted, declined; the rest go unanswered and expire.
    p_accept: float = 0.35
    p_decline: float = 0.30
    # Time from the alert to the answer: lognormal, median and log-sd.
    answer_median_s: float = 60.0
    answer_sigma: float = 0.8
    # Distance-dependent speed (van den Berg et al.'s form: linear in the distance, here with
    # assumed coefficients): on foot near, by bike or car farther, within [min, max].
    speed_intercept_mps: float = 1.6
    speed_per_km_mps: float = 2.0
    speed_min_mps: float = 1.4
    speed_max_mps: float = 13.9
    # The way along streets is this much longer than the straight line (as the default policy).
    detour_factor: float = 1.3
    source: str = "assumed (ranges of van den Berg et al. 2026 and Khalemsky et al. 2023)"

    def speed_mps(self, road_m: np.ndarray) -> np.ndarray:
        """Travel speed for a way of this length (metres along streets)."""
        road_km = np.minimum(np.asarray(road_m), 1e9) / 1000.0  # no one: any finite speed
        speed = self.speed_intercept_mps + self.speed_per_km_mps * road_km
        return np.clip(speed, self.speed_min_mps, self.speed_max_mps)


@dataclass(frozen=True)
class Clinical:
    """Times around the arrest (assumptions, stated in docs/simulation.md)."""

    # From the collapse to the alerts going out (call, questions, the dispatcher's decision).
    collapse_to_alert_s: float = 150.0
    # From arrival with an AED (volunteer) or the ambulance to the first shock.
    arrival_to_shock_s: float = 60.0
    # The ambulance's advanced care starts this long after its arrival.
    ems_arrival_to_acls_s: float = 60.0
    # Volunteers stop being alerted once the ambulance is there.
    stop_alerting_at_ems: bool = True


@dataclass(frozen=True)
class Ems:
    """Ambulance response from the alert: lognormal with a median and an interquartile range,
    by municipality code, with a default for the others."""

    default_median_s: float = 480.0
    default_iqr_s: float = 300.0
    by_municipality: dict[str, tuple[float, float]] = field(default_factory=dict)

    def sigma(self, median_s: float, iqr_s: float) -> float:
        """Log-sd of a lognormal with this median and interquartile range."""
        q3 = median_s + iqr_s / 2
        return float(np.log(q3 / median_s) / 0.6744897501960817)

    def arrays(self, codes: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Median and log-sd per municipality, in the order of ``codes``."""
        pairs = [
            self.by_municipality.get(c, (self.default_median_s, self.default_iqr_s)) for c in codes
        ]
        medians = np.array([m for m, _ in pairs] or [self.default_median_s], dtype=float)
        sigmas = np.array(
            [self.sigma(m, iqr) for m, iqr in pairs]
            or [self.sigma(self.default_median_s, self.default_iqr_s)]
        )
        return medians, sigmas
