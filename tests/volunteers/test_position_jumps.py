"""A position no one could have travelled to is refused and flagged, by the fast path and by
LocationApi alike (one statement serves both: volunteers.services.location)."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import VolunteerFactory, point
from volunteers.models import Volunteer
from volunteers.services.accounts import auth_token_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/location/"
FAST_PATH = "volunteers.fastpath.LocationFastPathMiddleware"
AARHUS = (10.2039, 56.1629)
COPENHAGEN = (12.5683, 55.6761)  # about 155 km from Aarhus as the crow flies


@pytest.fixture(params=["fast path", "full stack"])
def stack(request, settings):
    if request.param == "full stack":
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != FAST_PATH]
    return request.param


def at(where: tuple[float, float], *, ago_s: float = 0, accuracy_m: int = 10) -> dict:
    measured = timezone.now() - dt.timedelta(seconds=ago_s)
    return {
        "lon": where[0],
        "lat": where[1],
        "accuracy_m": accuracy_m,
        "measured_at": measured.isoformat(),
    }


def volunteer_seen_at(where, *, ago_s: float, accuracy_m: int = 10) -> tuple[Volunteer, APIClient]:
    volunteer = VolunteerFactory(
        location=point(*where),
        location_updated_at=timezone.now() - dt.timedelta(seconds=ago_s),
        location_accuracy_m=accuracy_m,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {auth_token_create(user=volunteer.user)}")
    return volunteer, client


def test_a_jump_across_the_country_in_a_minute_is_refused_and_flagged_once(stack):
    volunteer, client = volunteer_seen_at(AARHUS, ago_s=60)

    response = client.post(URL, at(COPENHAGEN), format="json")
    again = client.post(URL, at(COPENHAGEN, ago_s=-1), format="json")

    assert response.status_code == 409
    assert response.json() == {
        "lat": ["Ikke gemt: for langt fra din seneste position til at du kan være nået dertil."]
    }
    assert again.status_code == 409
    volunteer.refresh_from_db()
    assert round(volunteer.location.x, 4) == AARHUS[0]  # the stored position stays
    assert volunteer.location_jumps == 1  # one flag per stored position jumped from
    assert volunteer.location_jump_at is not None


def test_the_same_distance_hours_later_is_a_journey(stack):
    volunteer, client = volunteer_seen_at(AARHUS, ago_s=3 * 3600)

    assert client.post(URL, at(COPENHAGEN), format="json").status_code == 204

    volunteer.refresh_from_db()
    assert round(volunteer.location.x, 4) == COPENHAGEN[0]
    assert volunteer.location_jumps == 0


def test_a_fast_car_is_no_jump_and_the_accuracies_are_allowed_for(stack):
    # 1.5 km in 60 s: 25 m/s, a car on the motorway.
    volunteer, client = volunteer_seen_at(AARHUS, ago_s=60)
    assert client.post(URL, at((AARHUS[0] + 0.024, AARHUS[1])), format="json").status_code == 204
    # 350 m in 3 s is 117 m/s, but both fixes may be 180 m off: it may be no move at all.
    other, other_client = volunteer_seen_at(AARHUS, ago_s=3, accuracy_m=180)
    moved = at((AARHUS[0] + 0.0056, AARHUS[1]), accuracy_m=180)
    assert other_client.post(URL, moved, format="json").status_code == 204

    assert Volunteer.objects.filter(pk__in=[volunteer.pk, other.pk], location_jumps=0).count() == 2


def test_each_stored_position_jumped_from_counts_again(stack):
    volunteer, client = volunteer_seen_at(AARHUS, ago_s=60)
    assert client.post(URL, at(COPENHAGEN, ago_s=30), format="json").status_code == 409
    # Back home (a stored position, newer than the flag), then away again in no time.
    Volunteer.objects.filter(pk=volunteer.pk).update(location_received_at=None)
    assert client.post(URL, at(AARHUS, ago_s=20), format="json").status_code == 204
    Volunteer.objects.filter(pk=volunteer.pk).update(location_received_at=None)

    assert client.post(URL, at(COPENHAGEN, ago_s=10), format="json").status_code == 409

    volunteer.refresh_from_db()
    assert volunteer.location_jumps == 2
