"""The export of a volunteer's data (issue 15, point 4) shows what the API shows: distances to
incidents rounded to 100 m, and never the volunteer's own position at alert time, which with the
distances of a few colluding accounts would give the patient's home."""

import json

import pytest
from rest_framework.test import APIClient

from alerts.models import Alert
from tests.factories import AlertFactory, VolunteerFactory, point
from volunteers import selectors
from volunteers.services.accounts import auth_token_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reference_geography")]

# A position at alert time, with more decimals than anything the API shows.
AT_ALERT = (10.1234567, 56.7654321)


def _numbers(value) -> list[float]:
    """Every number in a JSON document (a timestamp's digits are no distance)."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


def _client(volunteer) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {auth_token_create(user=volunteer.user)}")
    return client


def test_the_export_rounds_distances_like_the_alert_api_and_leaves_out_my_position_then():
    volunteer = VolunteerFactory(location=point(10.21081234567, 56.15671234567))
    alert = AlertFactory(volunteer=volunteer, distance_m=837)
    Alert.objects.filter(pk=alert.pk).update(volunteer_location=point(*AT_ALERT))
    client = _client(volunteer)

    response = client.get("/api/v1/me/export/")

    assert response.status_code == 200
    exported = response.json()["alerts"][0]
    shown = client.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert exported["approximate_distance_m"] == shown["approximate_distance_m"] == 800
    assert "distance_m" not in exported
    assert "your_location_at_alert" not in exported
    text = response.content.decode()
    assert 837 not in _numbers(response.json())  # the exact distance, as no value
    assert "10.123" not in text
    assert "56.765" not in text
    # My current position, shown as the profile shows it (6 decimals), not the stored float.
    assert response.json()["location"]["lat"] == 56.156712
    assert response.json()["location"]["lon"] == 10.210812
    assert client.get("/api/v1/me/").json()["location"]["lat"] == 56.156712


@pytest.mark.parametrize(
    ("exact", "shown"), [(None, None), (0, 0), (49, 0), (50, 0), (151, 200), (1249, 1200)]
)
def test_distances_round_to_100_m(exact, shown):
    assert selectors.approximate_distance_m(exact) == shown


def test_no_alert_field_of_the_export_carries_a_position():
    volunteer = VolunteerFactory()
    alert = AlertFactory(volunteer=volunteer)
    Alert.objects.filter(pk=alert.pk).update(volunteer_location=point(*AT_ALERT))
    export = selectors.volunteer_export(volunteer=volunteer)
    flat = json.dumps(export["alerts"])
    assert "lat" not in flat
    assert "lon" not in flat
