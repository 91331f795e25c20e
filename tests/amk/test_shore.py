"""Where an incident may be created: the service region's land and shore, never another region's
land (amk.selectors.territory.incident_location_check), in the service and the console."""

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings
from django.urls import reverse

from amk.access import DISPATCHERS_GROUP
from amk.models import Incident
from amk.selectors.territory import incident_location_check, municipality_containing
from tests.factories import UserFactory, VolunteerFactory, point

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reference_geography")]

# (name, lon, lat, municipality): quays, beaches and islets of the region that the generalised
# DAGI 1:500,000 outlines leave in the water (tens to hundreds of metres outside).
SHORE_POINTS = [
    ("Dokk1, Aarhus harbour front", 10.2140, 56.1536, "Aarhus"),
    ("Grenaa harbour, outer pier", 10.9350, 56.4080, "Norddjurs"),
    ("Ebeltoft, the old ferry harbour", 10.6700, 56.1980, "Syddjurs"),
    ("Struer harbour (Limfjord)", 8.5960, 56.4930, "Struer"),
    ("Skive harbour (Limfjord)", 9.0560, 56.5730, "Skive"),
    ("Lemvig harbour (Limfjord)", 8.3030, 56.5520, "Lemvig"),
    ("Søndervig beach (North Sea)", 8.1050, 56.1180, "Ringkøbing-Skjern"),
    ("Bork harbour (Ringkøbing Fjord)", 8.2830, 55.8530, "Ringkøbing-Skjern"),
    ("Anholt harbour", 11.5100, 56.7150, "Norddjurs"),
    ("Hjelm, islet off Djursland", 10.8080, 56.1370, "Syddjurs"),
    ("Vorsø, islet in Horsens Fjord", 10.0180, 55.8650, "Horsens"),
    ("Vejle Fjord, off Hedensted's shore", 9.7000, 55.7000, "Hedensted"),
]
# Harbours inside the outlines: accepted as before.
INLAND_HARBOURS = [
    ("Aarhus marina", 10.2235, 56.1705, "Aarhus"),
    ("Randers harbour", 10.0600, 56.4560, "Randers"),
    ("Horsens harbour", 9.8740, 55.8590, "Horsens"),
]
# (name, lon, lat, region): well inside a neighbour, or on its shore across a fjord.
NEIGHBOURS = [
    ("Odense", 10.3883, 55.3959, "Region Syddanmark"),
    ("Vejle", 9.5357, 55.7093, "Region Syddanmark"),
    ("Aalborg", 9.9217, 57.0488, "Region Nordjylland"),
    ("Hadsund, across Mariager Fjord", 10.1170, 56.7160, "Region Nordjylland"),
    ("Off Nykøbing Mors (Limfjord), 58 m from Mors", 8.8800, 56.7900, "Region Nordjylland"),
    ("Roskilde", 12.0878, 55.6419, "Region Sjælland"),
    ("Copenhagen", 12.5683, 55.6761, "Region Hovedstaden"),
]


@pytest.mark.parametrize(("name", "lon", "lat", "municipality"), SHORE_POINTS)
def test_shore_points_outside_the_outlines_are_accepted(name, lon, lat, municipality):
    assert municipality_containing(point=point(lon, lat)) is None  # the outline misses it
    check = incident_location_check(point=point(lon, lat))
    assert check.municipality is not None, name
    assert check.municipality.name == municipality
    assert 0 < check.shore_distance_m <= 1000


@pytest.mark.parametrize(("name", "lon", "lat", "municipality"), INLAND_HARBOURS)
def test_points_inside_the_outlines_are_accepted(name, lon, lat, municipality):
    check = incident_location_check(point=point(lon, lat))
    assert check.municipality.name == municipality
    assert check.shore_distance_m == 0


@pytest.mark.parametrize(("name", "lon", "lat", "region"), NEIGHBOURS)
def test_neighbouring_regions_are_refused_by_name(name, lon, lat, region):
    check = incident_location_check(point=point(lon, lat))
    assert check.municipality is None, name
    assert check.other_region.name == region
    assert f"Positionen ligger i {region}" in check.refusal
    assert f"AMK-vagtcentralen i {region}" in check.refusal


@pytest.mark.parametrize(("lon", "lat"), [(11.2, 56.3), (9.43, 54.78)])  # Kattegat, Flensburg
def test_open_sea_and_abroad_are_refused(lon, lat):
    check = incident_location_check(point=point(lon, lat))
    assert check.municipality is None
    assert check.other_region is None
    assert "uden for Region Midtjylland: mere end 1000 m fra dens kyst" in check.refusal


@override_settings(SERVICE_REGION_SHORE_TOLERANCE_M=100)
def test_the_tolerance_is_a_setting():
    grenaa_pier = point(10.9350, 56.4080)  # 453 m out
    assert incident_location_check(point=grenaa_pier).municipality is None
    assert incident_location_check(point=point(10.2140, 56.1536)).municipality.name == "Aarhus"


# --- The console ------------------------------------------------------------------------------


@pytest.fixture
def console(client):
    user = UserFactory(username="disponent")
    user.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    client.force_login(user)
    return client


def test_an_incident_at_dokk1_is_created(console, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        response = console.post(
            reverse("amk:incident_create"),
            {"location": "56.1536, 10.2140", "address": "Hack Kampmanns Plads 2, 8000 Aarhus C"},
        )
    assert response.status_code == 302
    assert Incident.objects.get().municipality.name == "Aarhus"


def test_the_console_checks_the_pin_before_submit(console):
    url = reverse("amk:location_check")
    dokk1 = console.get(url, {"location": "56.1536, 10.2140"}).json()
    assert dokk1 == {"accepted": True, "municipality": "Aarhus", "message": ""}
    odense = console.get(url, {"location": "55.3959, 10.3883"}).json()
    assert odense["accepted"] is False
    assert "Region Syddanmark" in odense["message"]
    bad = console.get(url, {"location": "somewhere"})
    assert bad.status_code == 400
    assert "location" in bad.json()


def test_the_check_is_for_dispatchers_only(client):
    url = reverse("amk:location_check")
    assert client.get(url, {"location": "56.1536, 10.2140"}).status_code == 302  # to the login
    client.force_login(VolunteerFactory().user)
    assert client.get(url, {"location": "56.1536, 10.2140"}).status_code == 403
