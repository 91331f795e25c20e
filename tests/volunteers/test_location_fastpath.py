"""The location fast path (volunteers.fastpath) answers exactly as LocationApi would.

Each case runs twice, through the full stack with the fast path and with it taken out of the
middleware, and must give the same status and leave the same state: the fast path may only
save work, never change an answer.
"""

import datetime as dt

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import UserFactory, VolunteerFactory
from volunteers.models import Volunteer
from volunteers.services.accounts import auth_token_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/location/"
FAST_PATH = "volunteers.fastpath.LocationFastPathMiddleware"


@pytest.fixture(params=["fast path", "full stack"])
def stack(request, settings):
    if request.param == "full stack":
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != FAST_PATH]
    return request.param


def reading() -> dict:
    measured = timezone.now() - dt.timedelta(seconds=5)
    return {"lat": 56.17, "lon": 10.19, "accuracy_m": 12, "measured_at": measured.isoformat()}


def volunteer_last_seen_an_hour_ago() -> Volunteer:
    volunteer = VolunteerFactory()
    Volunteer.objects.filter(pk=volunteer.pk).update(
        location_updated_at=timezone.now() - dt.timedelta(hours=1)
    )
    return volunteer


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_a_position_is_stored(stack):
    volunteer = volunteer_last_seen_an_hour_ago()
    token = auth_token_create(user=volunteer.user)
    assert client_with(token).post(URL, reading(), format="json").status_code == 204
    volunteer.refresh_from_db()
    assert round(volunteer.location.y, 2) == 56.17
    assert volunteer.location_received_at is not None


@pytest.mark.parametrize(
    "case", ["expired token", "unknown token", "inactive user", "no header", "malformed header"]
)
def test_no_valid_token_is_401_and_stores_nothing(stack, case):
    volunteer = volunteer_last_seen_an_hour_ago()
    token = auth_token_create(user=volunteer.user)
    client = client_with(token)
    if case == "expired token":
        AuthToken.objects.filter(user=volunteer.user).update(
            expiry=timezone.now() - dt.timedelta(seconds=1)
        )
    elif case == "unknown token":
        client = client_with("f" * len(token))
    elif case == "inactive user":
        type(volunteer.user).objects.filter(pk=volunteer.user_id).update(is_active=False)
    elif case == "no header":
        client = APIClient()
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token} extra")
    assert client.post(URL, reading(), format="json").status_code == 401
    volunteer.refresh_from_db()
    assert volunteer.location_received_at is None
    if case == "expired token":  # knox deletes an expired token when it is used
        assert not AuthToken.objects.filter(user=volunteer.user).exists()


def test_a_user_without_volunteer_profile_gets_404(stack):
    token = auth_token_create(user=UserFactory())
    response = client_with(token).post(URL, reading(), format="json")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_refused_positions_are_worded_in_danish(stack):
    volunteer = volunteer_last_seen_an_hour_ago()
    client = client_with(auth_token_create(user=volunteer.user))
    response = client.post(URL, {**reading(), "lat": 48.85, "lon": 2.35}, format="json")
    assert response.status_code == 400
    assert "uden for Danmark" in response.json()["lat"][0]
    assert client.post(URL, "lat=56", content_type="text/plain").status_code == 415
    assert client.post(URL, "{", content_type="application/json").status_code == 400
    volunteer.refresh_from_db()
    assert volunteer.location_received_at is None


def test_too_soon_is_429_with_retry_after(stack, settings):
    settings.LOCATION_MIN_INTERVAL_S = 20
    volunteer = volunteer_last_seen_an_hour_ago()
    client = client_with(auth_token_create(user=volunteer.user))
    assert client.post(URL, reading(), format="json").status_code == 204
    response = client.post(URL, reading(), format="json")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 20


def test_the_token_is_renewed_as_knox_renews_it(stack, settings):
    """AUTO_REFRESH: a token in use moves its expiry to now + TOKEN_TTL (never past the
    AUTO_REFRESH_MAX_TTL from its creation), and only when that moves it by more than
    MIN_REFRESH_INTERVAL; an app that only reports positions must stay logged in."""
    from knox.settings import knox_settings

    volunteer = volunteer_last_seen_an_hour_ago()
    token = auth_token_create(user=volunteer.user)
    soon = timezone.now() + dt.timedelta(days=1)
    AuthToken.objects.filter(user=volunteer.user).update(expiry=soon)
    assert client_with(token).post(URL, reading(), format="json").status_code == 204
    expiry = AuthToken.objects.get(user=volunteer.user).expiry
    assert abs(expiry - (timezone.now() + knox_settings.TOKEN_TTL)) < dt.timedelta(seconds=30)
    # Past the maximum lifetime from creation it is not extended.
    created = timezone.now() - knox_settings.AUTO_REFRESH_MAX_TTL + dt.timedelta(days=2)
    AuthToken.objects.filter(user=volunteer.user).update(created=created, expiry=soon)
    Volunteer.objects.filter(pk=volunteer.pk).update(location_received_at=None)
    assert client_with(token).post(URL, reading(), format="json").status_code == 204
    expiry = AuthToken.objects.get(user=volunteer.user).expiry
    assert abs(expiry - (created + knox_settings.AUTO_REFRESH_MAX_TTL)) < dt.timedelta(seconds=1)


def test_one_volunteers_token_moves_only_that_volunteer(stack):
    mine, theirs = volunteer_last_seen_an_hour_ago(), volunteer_last_seen_an_hour_ago()
    client = client_with(auth_token_create(user=mine.user))
    assert client.post(URL, reading(), format="json").status_code == 204
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.location_received_at is None
    assert mine.location_received_at is not None
