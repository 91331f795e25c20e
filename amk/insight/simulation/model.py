"""The Monte Carlo model: one policy over many incidents at once, as array operations.

Every incident is a row and its nearest volunteers (by distance) the columns. The random draws
(who is reachable, who accepts or declines, how fast they answer, when the ambulance comes) are
made once per run and shared by all policies (common random numbers), so that the differences
between policies are not noise. Only the loop over waves (at most a few) or over the columns of
replace mode (the next volunteer to alert) is in Python, never a loop over incidents.

How a policy alerts mirrors alerts.services.waves: waves of ``app_volunteers_per_wave`` not yet
alerted within a radius that widens by ``radius_step_m`` every ``escalate_after_s`` while fewer
than ``target_accepted`` have accepted, up to ``max_waves``; or in replace mode the nearest
``outstanding_target`` within ``max_radius_m``, each answer or expiry replaced by the next
nearest until the target has accepted. Roles mirror alerts.services.roles (see ``_roles``); travel
times are alerts.selectors.routing.travel_seconds, with the policy's speed for the platform's
estimates and the distance-dependent speed of ``Behaviour`` for the simulated truth.
"""

from dataclasses import dataclass

import numpy as np

from alerts.selectors.routing import travel_seconds
from amk.insight.simulation.geometry import Neighbourhood
from amk.insight.simulation.params import Behaviour, Clinical
from amk.insight.simulation.policies import SimPolicy
from amk.insight.simulation.survival import survival_probability

ACCEPT, DECLINE, SILENT = 0, 1, 2


@dataclass
class Draws:
    """The random part of a run, shared by every policy: per (incident, volunteer) whether
    reachable now, the answer and its delay; per incident the ambulance's arrival."""

    reachable: np.ndarray  # (n, k) bool
    answer: np.ndarray  # (n, k) ACCEPT / DECLINE / SILENT
    answer_s: np.ndarray  # (n, k)
    ems_s: np.ndarray  # (n,)


def draws_make(
    rng: np.random.Generator,
    *,
    shape: tuple[int, int],
    behaviour: Behaviour,
    reachable_share: np.ndarray,
    ems_median_s: np.ndarray,
    ems_sigma: np.ndarray,
) -> Draws:
    """The draws for n incidents × k candidates. ``reachable_share`` (n,) is the share of the
    volunteers reachable at each incident's hour; the EMS arrays are per incident."""
    n = shape[0]
    reachable = rng.random(shape) < reachable_share[:, None]
    u = rng.random(shape)
    answer = np.where(
        u < behaviour.p_accept,
        ACCEPT,
        np.where(u < behaviour.p_accept + behaviour.p_decline, DECLINE, SILENT),
    )
    answer_s = behaviour.answer_median_s * np.exp(
        behaviour.answer_sigma * rng.standard_normal(shape)
    )
    ems_s = ems_median_s * np.exp(ems_sigma * rng.standard_normal(n))
    return Draws(reachable, answer, answer_s, ems_s)


def _compress(hood: Neighbourhood, draws: Draws) -> tuple[np.ndarray, np.ndarray]:
    """The order in which the platform would pick each incident's volunteers: the reachable
    ones (drawn, and outside their quiet hours), nearest first (``rank``: their position among
    the reachable; -1 for the others)."""
    reachable = draws.reachable & np.isfinite(hood.distance_m)
    if hood.volunteer_open is not None:
        reachable &= hood.volunteer_open
    rank = np.where(reachable, np.cumsum(reachable, axis=1) - 1, -1)
    return reachable, rank


def _waves(policy: SimPolicy, hood: Neighbourhood, draws: Draws, stop_s: np.ndarray) -> np.ndarray:
    """Alert times (n, k), inf for those never alerted, in waves mode."""
    n, k = hood.distance_m.shape
    reachable, rank = _compress(hood, draws)
    accept_after = np.where(draws.answer == ACCEPT, draws.answer_s, np.inf)
    alert_t = np.full((n, k), np.inf)
    sent = np.zeros(n, dtype=np.int64)
    going = np.ones(n, dtype=bool)
    for wave in range(policy.max_waves):
        t = float(wave * policy.escalate_after_s)
        radius = min(policy.radius_m + wave * policy.radius_step_m, policy.max_radius_m)
        if wave:
            accepted = ((alert_t + accept_after) <= t).sum(axis=1)
            going &= (accepted < policy.target_accepted) & (t < stop_s)
        within = (reachable & (hood.distance_m <= radius)).sum(axis=1)
        end = np.where(going, np.minimum(sent + policy.app_volunteers_per_wave, within), sent)
        new = (rank >= sent[:, None]) & (rank < end[:, None])
        alert_t[new] = t
        sent = np.maximum(sent, end)
    return alert_t


def _replace(
    policy: SimPolicy, hood: Neighbourhood, draws: Draws, stop_s: np.ndarray
) -> np.ndarray:
    """Alert times (n, k) in replace mode: ``outstanding_target`` slots, each freed by an
    answer or an expiry and refilled at once with the next nearest, until the target accepted."""
    n, k = hood.distance_m.shape
    reachable, _rank = _compress(hood, draws)
    eligible = reachable & (hood.distance_m <= policy.max_radius_m)
    # Columns in the order of picking (the eligible first, nearest first).
    order = np.argsort(~eligible, axis=1, kind="stable")
    ok_sorted = np.take_along_axis(eligible, order, axis=1)
    answer = np.take_along_axis(draws.answer, order, axis=1)
    answer_s = np.take_along_axis(draws.answer_s, order, axis=1)
    hold = np.where(
        answer == SILENT, float(policy.alert_valid_s), np.minimum(answer_s, policy.alert_valid_s)
    )
    accept_after = np.where(answer == ACCEPT, answer_s, np.inf)
    slots = np.zeros((n, max(policy.outstanding_target, 1)))
    accepted_at = np.full((n, k), np.inf)
    sorted_t = np.full((n, k), np.inf)
    rows = np.arange(n)
    for j in range(k):
        if not ok_sorted[:, j].any():
            break
        slot = slots.argmin(axis=1)
        t = slots[rows, slot]
        accepted = (accepted_at[:, :j] <= t[:, None]).sum(axis=1)
        send = ok_sorted[:, j] & (accepted < policy.target_accepted) & (t < stop_s)
        sorted_t[:, j] = np.where(send, t, np.inf)
        accepted_at[:, j] = np.where(send, t + accept_after[:, j], np.inf)
        slots[rows, slot] = np.where(send, t + hold[:, j], np.inf)
    alert_t = np.full((n, k), np.inf)
    np.put_along_axis(alert_t, order, sorted_t, axis=1)
    return alert_t


@dataclass
class Outcome:
    """Per incident: alerts sent, arrivals, the first responder's and the AED's arrival, the
    ambulance's, and the survival probability."""

    alerts: np.ndarray
    accepted: np.ndarray
    first_arrival_s: np.ndarray
    aed_arrival_s: np.ndarray
    ems_s: np.ndarray
    redundant: np.ndarray
    survival: np.ndarray


def simulate(
    policy: SimPolicy,
    hood: Neighbourhood,
    draws: Draws,
    *,
    behaviour: Behaviour,
    clinical: Clinical,
) -> Outcome:
    """Run one policy over every incident of the neighbourhood with these draws."""
    stop_s = draws.ems_s if clinical.stop_alerting_at_ems else np.full(draws.ems_s.shape, np.inf)
    alert_t = (_replace if policy.replace else _waves)(policy, hood, draws, stop_s)
    alerted = np.isfinite(alert_t)
    accepted = alerted & (draws.answer == ACCEPT)
    accept_t = np.where(accepted, alert_t + draws.answer_s, np.inf)
    # The truth: the way along streets at the distance-dependent speed.
    road = hood.distance_m * behaviour.detour_factor
    direct_s = travel_seconds(
        hood.distance_m, speed_mps=behaviour.speed_mps(road), detour_factor=behaviour.detour_factor
    )
    via_d = hood.via_m(policy.aed_search_radius_m)
    via_s = travel_seconds(
        via_d,
        speed_mps=behaviour.speed_mps(via_d * behaviour.detour_factor),
        detour_factor=behaviour.detour_factor,
    )
    arrival = accept_t + direct_s
    if policy.aed_first_n is not None:
        # Hjerteløber: the first n to accept each fetch their nearest AED.
        rank = np.argsort(np.argsort(accept_t, axis=1, kind="stable"), axis=1)
        fetch = accepted & (rank < policy.aed_first_n) & np.isfinite(via_s)
    else:
        fetch = _fetcher_by_time(policy, accept_t, hood.distance_m, via_d)
    arrival = np.where(fetch, accept_t + via_s, arrival)
    aed_arrival = np.where(fetch, arrival, np.inf).min(axis=1)
    first_arrival = arrival.min(axis=1)
    ems = draws.ems_s
    # Useful: the first on scene, and the first AED bearer if someone else; both before the
    # ambulance. Whoever else reaches the patient before the ambulance is redundant.
    before = (arrival < ems[:, None]).sum(axis=1)
    first_is_aed = np.isfinite(aed_arrival) & (aed_arrival <= first_arrival)
    useful = (first_arrival < ems).astype(int) + ((aed_arrival < ems) & ~first_is_aed).astype(int)
    redundant = np.maximum(before - useful, 0)
    collapse = clinical.collapse_to_alert_s
    cpr = collapse + np.minimum(first_arrival, ems)
    shock = collapse + np.minimum(aed_arrival, ems) + clinical.arrival_to_shock_s
    acls = collapse + ems + clinical.ems_arrival_to_acls_s
    return Outcome(
        alerts=alerted.sum(axis=1),
        accepted=accepted.sum(axis=1),
        first_arrival_s=first_arrival,
        aed_arrival_s=aed_arrival,
        ems_s=ems,
        redundant=redundant,
        survival=survival_probability(cpr, shock, acls),
    )


def _fetcher_by_time(
    policy: SimPolicy, accept_t: np.ndarray, direct_d: np.ndarray, via_d: np.ndarray
) -> np.ndarray:
    """alerts.services.roles on the final set of responders: the one the platform expects at
    the patient first goes straight there; of the others, the one through whom an AED arrives
    soonest fetches it, if within ``aed_max_arrival_s`` of their acceptance (estimates with the
    policy's speed and detour factor, as the live router). Returns (n, k) bool: who fetches."""
    n, k = accept_t.shape
    speed, detour = policy.travel_speed_mps, policy.detour_factor
    est_direct = accept_t + travel_seconds(direct_d, speed_mps=speed, detour_factor=detour)
    est_via_s = travel_seconds(via_d, speed_mps=speed, detour_factor=detour)
    first = est_direct.argmin(axis=1)
    not_first = np.ones((n, k), dtype=bool)
    not_first[np.arange(n), first] = False
    eligible = np.isfinite(accept_t) & not_first & (est_via_s <= policy.aed_max_arrival_s)
    aed_est = np.where(eligible, accept_t + est_via_s, np.inf)
    fetcher = aed_est.argmin(axis=1)
    fetch = np.zeros((n, k), dtype=bool)
    has = np.isfinite(aed_est[np.arange(n), fetcher])
    fetch[np.arange(n)[has], fetcher[has]] = True
    return fetch
