"""The console's search box over addresses and places, and the DAWA-compatible HTTP backend
against a local fake service (tests/fakes/dawa_server.py)."""

import atexit
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from amk.access import DISPATCHERS_GROUP
from amk.selectors.addresses import location_search
from amk.selectors.addresses_dawa import DawaUnavailable, dawa_autocomplete
from amk.services.addresses import addresses_import
from amk.services.territory import places_load
from tests.factories import UserFactory, VolunteerFactory
from tests.fakes.dawa_server import FakeDawa

pytestmark = pytest.mark.usefixtures("reference_geography")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "addresses"
DATA = Path(__file__).resolve().parents[2] / "data" / "addresses"
HACK_KAMPMANNS = "Hack Kampmanns Plads 2, 8000 Aarhus C"
_fake: list[FakeDawa] = []


@pytest.fixture
def fake_dawa():
    if not _fake:
        _fake.append(FakeDawa().start())
        atexit.register(_fake[0].stop)
    _fake[0].reset()
    yield _fake[0]
    _fake[0].reset()


@pytest.fixture
def dawa_settings(settings, fake_dawa):
    settings.ADDRESS_SEARCH_BACKEND = "dawa"
    settings.DAWA_COMPATIBLE_BASE_URL = fake_dawa.base_url
    settings.ADDRESS_SEARCH_TIMEOUT_S = 0.5
    return settings


@pytest.fixture
def register(db):
    addresses_import(path=FIXTURES / "adgangsadresser_mini.json")
    places_load(path=DATA / "landmarks.geojson")


@pytest.fixture
def console(client, db):
    user = UserFactory(username="disponent")
    user.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    client.force_login(user)
    return client


def _search(client, q: str) -> dict:
    response = client.get(reverse("amk:place_search"), {"q": q})
    assert response.status_code == 200
    return response.json()


def test_search_box_answers_dispatchers_only(client, register):
    url = reverse("amk:place_search")
    anonymous = client.get(url, {"q": "Hack"})
    assert anonymous.status_code == 302
    assert "/login" in anonymous["Location"]
    client.force_login(VolunteerFactory().user)
    assert client.get(url, {"q": "Hack"}).status_code == 403


def test_search_box_finds_the_address_and_fills_both_fields(console, register):
    data = _search(console, "Hack Kampmans Plads 2")  # typo
    first = data["results"][0]
    assert first["kind"] == "address"
    assert first["label"] == HACK_KAMPMANNS
    assert first["address"] == HACK_KAMPMANNS  # what the address field gets
    assert (first["lat"], first["lon"]) == (pytest.approx(56.1535), pytest.approx(10.2138))
    assert first["synthetic"] is False
    assert data["addresses_fallback"] is False
    # Landmarks from the gazetteer are found in the same box.
    dokk1 = _search(console, "Dokk1")["results"][0]
    assert (dokk1["kind"], dokk1["label"], dokk1["address"]) == ("place", "Dokk1", "")
    assert dokk1["municipality"] == "Aarhus"
    sondergade = _search(console, "Sondergade")["results"]
    assert "Søndergade, 8000 Aarhus C" in [r["label"] for r in sondergade if r["kind"] == "street"]
    assert _search(console, "\x00")["results"] == []


def test_dawa_backend_speaks_autocomplete(dawa_settings, fake_dawa):
    found = dawa_autocomplete(query="hack kampmanns 2", limit=5)
    assert [a.label for a in found] == [HACK_KAMPMANNS]
    (params,) = fake_dawa.queries.all()
    assert params["q"] == ["hack kampmanns 2"]
    assert params["type"] == ["adgangsadresse"]
    assert params["per_side"] == ["5"]
    assert "fuzzy" in params


def test_dawa_backend_results_reach_the_console(console, dawa_settings, fake_dawa, db):
    results = _search(console, "Hack Kampmanns 2")["results"]
    assert results[0]["label"] == HACK_KAMPMANNS
    assert results[0]["municipality"] == "Aarhus"
    assert results[0]["in_service_region"] is True
    odense = location_search(query="Kongensgade 9").matches[0]
    assert odense.label == "Kongensgade 9, 5000 Odense C"
    assert odense.in_service_region is False
    assert odense.municipality == "Odense"


@pytest.mark.parametrize("fault", ["error", "slow", "down"])
def test_dawa_backend_failing_falls_back_to_the_local_register(
    console, dawa_settings, fake_dawa, register, fault
):
    if fault == "error":
        fake_dawa.faults.error_every = 1
    elif fault == "slow":
        fake_dawa.faults.delay_s = 2.0  # past ADDRESS_SEARCH_TIMEOUT_S
    else:
        fake_dawa.down()
    with pytest.raises(DawaUnavailable):
        dawa_autocomplete(query="Hack Kampmanns 2")
    data = _search(console, "Hack Kampmanns Plads 2")
    assert data["addresses_fallback"] is True
    assert data["results"][0]["label"] == HACK_KAMPMANNS


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ADDRESS_SEARCH_BACKEND": "dawa"}, "needs DAWA_COMPATIBLE_BASE_URL"),
        ({"ADDRESS_SEARCH_BACKEND": "dawa", "DAWA_COMPATIBLE_BASE_URL": "ftp://x"}, "http(s)"),
        ({"ADDRESS_SEARCH_BACKEND": "google"}, "must be local or dawa"),
    ],
)
def test_a_misconfigured_address_backend_stops_start_up(overrides, message):
    env = {**os.environ, "APP_MODE": "test", **overrides}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr
