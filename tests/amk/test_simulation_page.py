"""The policy simulator's command and console page, on a small region of known data: app
volunteers, AEDs and past incidents around Aarhus."""

import datetime as dt
import json
import random

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert
from amk.insight.simulation.inputs import (
    _outside_quiet_hours,
    behaviour_fitted,
    ems_configured,
    region_load,
)
from amk.insight.simulation.params import Behaviour, Clinical, Ems
from amk.insight.simulation.policies import presets
from amk.insight.simulation.run import run_policies
from amk.models.incident import Incident
from defibrillators.availability import LOCAL_TZ
from tests.factories import (
    AARHUS_C,
    DefibrillatorFactory,
    DispatcherFactory,
    DispatchPolicyFactory,
    IncidentFactory,
    UserFactory,
    VolunteerFactory,
    point,
)

FIGURES = {
    "volunteer_before_ems_share",
    "aed_before_ems_share",
    "expected_survival",
    "alerts_per_incident",
    "redundant_arrivals_per_incident",
    "alerts_per_volunteer_per_month",
}


def _near(rng: random.Random, spread_deg: float = 0.03):
    return point(
        AARHUS_C[0] + rng.uniform(-spread_deg, spread_deg),
        AARHUS_C[1] + rng.uniform(-spread_deg, spread_deg) / 2,
    )


@pytest.fixture
def region(reference_geography):
    rng = random.Random(7)
    for _ in range(80):
        VolunteerFactory(location=_near(rng))
    for _ in range(15):
        DefibrillatorFactory(location=_near(rng))
    for _ in range(60):
        IncidentFactory(location=_near(rng, 0.02))


@pytest.fixture
def manager(client):
    user = UserFactory()
    user.user_permissions.add(
        Permission.objects.get(codename="view_statistics", content_type__app_label="amk")
    )
    client.force_login(user)
    return user


def test_the_command_writes_the_report_and_adds_the_benchmark_figure(region, tmp_path):
    bench = tmp_path / "benchmarks.json"
    bench.write_text(
        json.dumps({"board_queries": 10, "targets_met": {"board ≤ 10 queries, constant": True}})
    )
    call_command(
        "simulate_policies",
        "--incidents",
        "500",
        "--out",
        str(tmp_path),
        "--benchmark",
        str(bench),
        verbosity=0,
    )
    data = json.loads((tmp_path / "simulation.json").read_text())
    assert data["region"] == {"incidents_source": "past", "volunteers": 80, "aeds": 15}
    assert data["validation"]["passed"] is True
    assert data["validation"]["statistic"] <= data["validation"]["tolerance"]
    assert data["validation"]["plos_direction"]["passed"] is True
    assert set(data["policies"]) == {
        "default",
        "hjertelober",
        "three_waves",
        "replace7",
        "replace12",
        "waves10",
    }
    for figures in data["policies"].values():
        assert set(figures) >= FIGURES
        assert figures["incidents"] == 500
        assert 0 <= figures["volunteer_before_ems_share"] <= 1
    # 80 volunteers within a few km: the default alerts 20 in its first wave.
    assert data["policies"]["default"]["alerts_per_incident"] >= 20
    assert (
        data["policies"]["replace7"]["alerts_per_incident"]
        < data["policies"]["default"]["alerts_per_incident"]
    )
    assert data["runtime_s"] > 0
    assert data["supported_policy"] in data["policies"]
    markdown = (tmp_path / "simulation.md").read_text()
    assert "| 1 | Today's default |" in markdown
    assert "simulation-survival.svg" in markdown
    assert (tmp_path / "simulation-first-arrival.svg").read_text().startswith("<svg")
    figures = json.loads(bench.read_text())
    assert figures["board_queries"] == 10
    assert figures["simulation_runtime_s"] == data["runtime_s"]
    assert figures["simulation_baseline_s"] > 0
    assert figures["targets_met"]["board ≤ 10 queries, constant"] is True
    assert "simulation 10k × 6 ≤ 60 s" in figures["targets_met"]


def test_the_page_is_for_management_only(client, region):
    url = reverse("amk:policy_simulation")
    assert client.get(url).status_code == 302
    client.force_login(DispatcherFactory())
    assert client.get(url).status_code == 403
    assert (
        client.post(url, {"policies": ["default"], "incidents": 200, "source": "past"}).status_code
        == 403
    )


def test_the_page_runs_the_chosen_policies_side_by_side(client, region, manager):
    saved = DispatchPolicyFactory(name="Sommer", mode="replace", outstanding_target=5)
    url = reverse("amk:policy_simulation")
    page = client.get(url)
    assert page.status_code == 200
    assert f'value="policy-{saved.pk}"' in page.content.decode()
    # Danish by default.
    assert "Politiksimulator" in page.content.decode()
    assert "Trinvis: 7 nærmeste, hver der falder fra erstattes" in page.content.decode()
    response = client.post(
        url,
        {
            "policies": ["default", "replace7", f"policy-{saved.pk}"],
            "incidents": 300,
            "source": "past",
        },
    )
    assert response.status_code == 200
    rows = response.context["rows"]
    assert len(rows) == 3
    assert rows[2]["name"] == "Sommer"
    assert all(r["incidents"] == 300 for r in rows)
    body = response.content.decode()
    assert body.count("<svg") == 4
    assert "Tallene taler for" in body
    assert "Alarmer pr. frivillig pr. måned" in body
    assert "Sommer" in body


def test_bad_input_is_a_400_naming_the_field(client, region, manager, settings):
    settings.SIMULATION_PAGE_MAX_INCIDENTS = 1000
    url = reverse("amk:policy_simulation")
    too_many = client.post(url, {"policies": ["default"], "incidents": 5000, "source": "past"})
    assert too_many.status_code == 400
    assert "incidents" in too_many.context["form"].errors
    none_chosen = client.post(url, {"incidents": 200, "source": "past"})
    assert none_chosen.status_code == 400
    assert "policies" in none_chosen.context["form"].errors
    unknown = client.post(url, {"policies": ["policy-999999"], "incidents": 200, "source": "past"})
    assert unknown.status_code == 400
    assert "policies" in unknown.context["form"].errors


def test_volunteers_in_their_quiet_hours_are_never_alerted(reference_geography):
    rng = random.Random(3)
    always_quiet = {"quiet_hours_start": dt.time(0, 0), "quiet_hours_end": dt.time(23, 59)}
    for _ in range(30):
        VolunteerFactory(location=_near(rng), **always_quiet)
    VolunteerFactory(
        location=_near(rng), quiet_hours_start=dt.time(22, 0), quiet_hours_end=dt.time(7, 0)
    )
    # Half the incidents at 03:00, half at 12:00 (Copenhagen).
    day = timezone.localdate()
    for hour in [3] * 5 + [12] * 5:
        incident = IncidentFactory(location=_near(rng, 0.01))
        at = dt.datetime.combine(day, dt.time(hour, 10), tzinfo=LOCAL_TZ)
        Incident.objects.filter(pk=incident.pk).update(created_at=at)
    region = region_load(incidents=400, source="past")
    assert region.volunteer_open_by_hour.shape == (31, 24)
    result = run_policies(
        region,
        {"default": presets()["default"]},
        behaviour=Behaviour(),
        clinical=Clinical(),
        ems=Ems(),
    )
    # Only the one outside quiet hours is alerted, and only at noon: about half the incidents.
    share_by_day = float((region.incident_hour == 12).mean())
    alerts = result.figures["default"]["alerts_per_incident"]
    assert alerts == pytest.approx(share_by_day, abs=0.01)
    assert 0.3 < share_by_day < 0.7


def test_quiet_hours_by_hour_follow_the_selection_rule():
    night = _outside_quiet_hours(dt.time(22, 0), dt.time(7, 0))
    assert [h for h in range(24) if not night[h]] == [0, 1, 2, 3, 4, 5, 6, 22, 23]
    day = _outside_quiet_hours(dt.time(9, 0), dt.time(17, 0))
    assert [h for h in range(24) if not day[h]] == list(range(9, 17))
    assert all(_outside_quiet_hours(None, dt.time(7, 0)))


def test_behaviour_is_fitted_from_the_platforms_own_alerts(reference_geography):
    incidents = IncidentFactory.create_batch(10)
    volunteers = VolunteerFactory.create_batch(20)
    states = ["accepted"] * 8 + ["declined"] * 6 + ["expired"] * 6
    Alert.objects.bulk_create(
        [
            Alert(incident=i, volunteer=v, pool="app", wave=1, distance_m=800, state=s)
            for i in incidents
            for v, s in zip(volunteers, states, strict=True)
        ]
    )
    Alert.objects.filter(state__in=["accepted", "declined"]).update(
        answered_at=F("created_at") + dt.timedelta(seconds=45)
    )
    fitted = behaviour_fitted()
    assert fitted.p_accept == pytest.approx(0.4)
    assert fitted.p_decline == pytest.approx(0.3)
    assert fitted.answer_median_s == pytest.approx(45, abs=0.5)
    assert fitted.source == "fitted from 200 of the platform's own app alerts"


def test_the_ambulance_by_municipality_comes_from_settings(settings):
    settings.SIMULATION_EMS_BY_MUNICIPALITY = {"0751": [360, 200]}
    ems = ems_configured()
    medians, sigmas = ems.arrays(["0706", "0751"])
    assert medians.tolist() == [settings.SIMULATION_EMS_MEDIAN_S, 360.0]
    # The lognormal's upper quartile is the median plus half the interquartile range.
    assert 360 * np.exp(0.6744897501960817 * sigmas[1]) == pytest.approx(460)
