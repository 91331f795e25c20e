"""The policy simulator's model: the validation that can fail, and the policy mechanics on
hand-made neighbourhoods where the answer is known."""

import math

import numpy as np
import pytest
from django.contrib.gis.geos import Point

from alerts.models import DispatchPolicy
from alerts.selectors.routing import haversine_m, straight_line_m, travel_seconds
from amk.insight.charts import bar_chart_svg, line_chart_svg
from amk.insight.simulation.geometry import Neighbourhood, nearest
from amk.insight.simulation.model import ACCEPT, DECLINE, SILENT, Draws, simulate
from amk.insight.simulation.params import Behaviour, Clinical
from amk.insight.simulation.policies import presets, sim_policy
from amk.insight.simulation.report import supported
from amk.insight.simulation.survival import survival_probability
from amk.insight.simulation.validation import closed_form_check, plos_direction_check

# A constant world: answers after exactly 30 s, 2 m/s, the straight line (detour 1).
STEADY = Behaviour(
    answer_median_s=30.0,
    answer_sigma=0.0,
    speed_intercept_mps=2.0,
    speed_per_km_mps=0.0,
    speed_min_mps=2.0,
    speed_max_mps=2.0,
    detour_factor=1.0,
)
NO_STOP = Clinical(stop_alerting_at_ems=False)


def _hood(
    distances: list[float], *, aed_legs: list[float] | None = None, aed_to_patient: float = 0.0
):
    d = np.array([distances], dtype=float)
    k = d.shape[1]
    if aed_legs is None:
        return Neighbourhood(
            d, np.full((1, k, 0), np.inf), np.full((1, 0), np.inf), np.zeros((1, 0), bool)
        )
    return Neighbourhood(
        d,
        np.array(aed_legs, dtype=float).reshape(1, k, 1),
        np.array([[aed_to_patient]]),
        np.ones((1, 1), bool),
    )


def _draws(answers: list[int], *, answer_s: float = 30.0, ems_s: float = 1e9) -> Draws:
    k = len(answers)
    return Draws(
        reachable=np.ones((1, k), bool),
        answer=np.array([answers]),
        answer_s=np.full((1, k), answer_s),
        ems_s=np.array([ems_s]),
    )


def test_first_arrival_matches_the_poisson_closed_form_and_a_wrong_density_fails():
    check = closed_form_check(n=10_000, seed=16)
    assert check["tolerance"] == pytest.approx(1.36 / math.sqrt(10_000), rel=1e-3)
    assert check["statistic"] <= check["tolerance"], check
    assert check["passed"] is True
    # The negative control: the same sample is far from the closed form of another density.
    assert check["negative_control"]["statistic"] > 3 * check["tolerance"]
    assert check["negative_control"]["rejected"] is True


def test_plos_direction_alert_seven_and_replace_needs_fewer_alerts_at_about_the_same_survival():
    check = plos_direction_check(n=10_000, seed=2026)
    fewer, everyone = check["alerts_per_incident"]
    assert everyone == 30.0
    assert fewer < everyone
    assert abs(check["survival"][0] - check["survival"][1]) <= check["margin"] == 0.01
    assert check["passed"] is True


def test_waves_widen_every_escalation_while_too_few_accept():
    # 70 volunteers 100 m apart from 100 m out; nobody answers, so every wave goes out.
    policy = sim_policy(
        DispatchPolicy(
            app_volunteers_per_wave=20,
            radius_m=2000,
            radius_step_m=2000,
            max_radius_m=6000,
            max_waves=3,
        )
    )
    hood = _hood([100.0 * (i + 1) for i in range(70)])
    outcome = simulate(policy, hood, _draws([SILENT] * 70), behaviour=STEADY, clinical=NO_STOP)
    # Wave 1: the 20 within 2 km; wave 2: 20 more within 4 km; wave 3: 20 more within 6 km.
    assert outcome.alerts.tolist() == [60]
    assert np.isinf(outcome.first_arrival_s).all()


def test_waves_stop_once_the_target_has_accepted():
    policy = sim_policy(
        DispatchPolicy(
            app_volunteers_per_wave=3, target_accepted=2, max_waves=3, escalate_after_s=60
        )
    )
    hood = _hood([100.0, 200.0, 300.0, 400.0, 500.0, 600.0])
    # Two of the first wave accept after 30 s, before the escalation at 60 s: no second wave.
    outcome = simulate(
        policy,
        hood,
        _draws([ACCEPT, ACCEPT, DECLINE, ACCEPT, ACCEPT, ACCEPT]),
        behaviour=STEADY,
        clinical=NO_STOP,
    )
    assert outcome.alerts.tolist() == [3]
    assert outcome.accepted.tolist() == [2]
    # The nearest, 100 m at 2 m/s after answering in 30 s.
    assert outcome.first_arrival_s[0] == pytest.approx(30 + 50)


def test_replace_mode_keeps_the_outstanding_number_and_replaces_each_answer():
    policy = sim_policy(
        DispatchPolicy(
            mode=DispatchPolicy.Mode.REPLACE,
            outstanding_target=2,
            target_accepted=1,
            max_radius_m=10_000,
        )
    )
    hood = _hood([100.0, 200.0, 300.0, 400.0, 500.0, 600.0])
    # The two nearest decline after 30 s, the next two are alerted then; the third accepts at
    # 60 s, and the fourth's slot is refilled only while the target is not met.
    outcome = simulate(
        policy,
        hood,
        _draws([DECLINE, DECLINE, ACCEPT, SILENT, ACCEPT, ACCEPT]),
        behaviour=STEADY,
        clinical=NO_STOP,
    )
    assert outcome.alerts.tolist() == [4]
    assert outcome.accepted.tolist() == [1]
    assert outcome.first_arrival_s[0] == pytest.approx(30 + 30 + 150)


def test_roles_by_time_send_the_first_straight_and_another_for_the_aed():
    policy = sim_policy(
        DispatchPolicy(
            app_volunteers_per_wave=5, max_waves=1, travel_speed_mps=2.0, detour_factor=1.0
        )
    )
    # Volunteer 0 is nearest and goes straight; volunteer 1 passes the AED (100 m away, the AED
    # 200 m from the patient) and fetches it.
    hood = _hood([150.0, 400.0], aed_legs=[[300.0], [100.0]], aed_to_patient=200.0)
    outcome = simulate(policy, hood, _draws([ACCEPT, ACCEPT]), behaviour=STEADY, clinical=NO_STOP)
    assert outcome.first_arrival_s[0] == pytest.approx(30 + 75)
    assert outcome.aed_arrival_s[0] == pytest.approx(30 + 150)


def test_hjertelober_sends_the_first_to_accept_for_the_aed_too():
    preset = presets()["hjertelober"]
    assert preset.aed_first_n == 4
    assert preset.max_waves == 1
    assert preset.max_radius_m == 5000
    hood = _hood([150.0, 400.0], aed_legs=[[300.0], [100.0]], aed_to_patient=200.0)
    outcome = simulate(preset, hood, _draws([ACCEPT, ACCEPT]), behaviour=STEADY, clinical=NO_STOP)
    # Both fetch the AED: the first on scene is the one through the AED at 300 m.
    assert outcome.first_arrival_s[0] == pytest.approx(30 + 150)


def test_todays_default_is_literally_the_default_dispatch_policy():
    assert presets()["default"] == sim_policy(DispatchPolicy(), name=presets()["default"].name)


def test_larsen_survival_function():
    # 67 % − 2.3 %/min to CPR − 1.1 %/min to the shock − 2.1 %/min to advanced care.
    p = survival_probability(np.array([60.0]), np.array([300.0]), np.array([600.0]))
    assert p[0] == pytest.approx(0.67 - 0.023 - 0.011 * 5 - 0.021 * 10)
    assert (
        survival_probability(np.array([3600.0]), np.array([3600.0]), np.array([3600.0]))[0] == 0.0
    )


def test_nearest_returns_sorted_distances_and_pads():
    points = np.array([[0.0, 0.0]])
    sites = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])
    dist, index = nearest(points, sites, 4)
    assert dist[0, :3].tolist() == [1.0, 2.0, 5.0]
    assert index[0].tolist() == [1, 2, 0, -1]
    assert np.isinf(dist[0, 3])


def test_the_simulator_and_the_live_router_share_the_distance_and_travel_time():
    a, b = Point(10.2039, 56.1567, srid=4326), Point(10.2200, 56.1700, srid=4326)
    assert float(haversine_m(a.x, a.y, b.x, b.y)) == pytest.approx(straight_line_m(a, b), rel=1e-12)
    arrays = travel_seconds(
        np.array([1000.0, 2000.0]), speed_mps=np.array([2.0, 4.0]), detour_factor=1.3
    )
    assert arrays.tolist() == pytest.approx([650.0, 650.0])
    assert travel_seconds(1000.0, speed_mps=2.0, detour_factor=1.3) == pytest.approx(650.0)


def test_the_supported_policy_is_the_lightest_within_a_life_a_year_of_the_best():
    figures = {
        "a": {
            "lives_per_year_vs_ems_only": 30.0,
            "alerts_per_volunteer_per_month": 0.8,
            "expected_survival": 0.12,
        },
        "b": {
            "lives_per_year_vs_ems_only": 29.5,
            "alerts_per_volunteer_per_month": 0.4,
            "expected_survival": 0.119,
        },
        "c": {
            "lives_per_year_vs_ems_only": 27.0,
            "alerts_per_volunteer_per_month": 0.1,
            "expected_survival": 0.11,
        },
    }
    assert supported(figures) == "b"


def test_charts_escape_their_text():
    svg = bar_chart_svg("<b>&", ["x<y"], {'s"1': [1.0]}, "%")
    assert svg.startswith("<svg")
    assert "<b>" not in svg
    assert "x&lt;y" in svg
    line = line_chart_svg("t", [0.0, 1.0], {"<s>": [0.0, 1.0]}, "x", "y")
    assert "&lt;s&gt;" in line
    assert "<s>" not in line
