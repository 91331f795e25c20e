"""The policy simulator's command and console page, on a small region of known data: app
volunteers, AEDs and past incidents around Aarhus."""

import json
import random

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

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
