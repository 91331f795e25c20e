"""Hostile JSON bodies (config.parsers.BoundedJSONParser): too deep or too large → 400 naming
the reason, never 500; on anonymous endpoints, authenticated ones and the location fast path."""

import json

import pytest
from rest_framework.test import APIClient

from tests.factories import VolunteerFactory
from volunteers.services.accounts import auth_token_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def _post(client, url, body: str):
    return client.generic("POST", url, body, content_type="application/json")


def _me():
    client = APIClient()
    token = auth_token_create(user=VolunteerFactory().user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.parametrize("depth", [33, 1000, 30_000])
@pytest.mark.parametrize("url", ["/api/v1/auth/code/", "/api/v1/auth/login/"])
def test_deeply_nested_bodies_get_400_on_anonymous_endpoints(url, depth):
    response = _post(APIClient(), url, "[" * depth + "]" * depth)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_a_body_within_the_depth_limit_is_read():
    nested = {"phone": "+4520123456", "x": json.loads("[" * 30 + "]" * 30)}
    response = APIClient().post("/api/v1/auth/login/", nested, format="json")
    assert response.status_code == 400  # the code is missing: the body was read
    assert "code" in response.json()


def test_an_oversized_body_gets_400(settings):
    settings.API_JSON_MAX_BYTES = 1024
    body = json.dumps({"phone": "+4520123456", "pad": "x" * 2000})
    response = _post(APIClient(), "/api/v1/auth/code/", body)
    assert response.status_code == 400
    assert "too large" in response.json()["detail"]


@pytest.mark.parametrize("url", ["/api/v1/me/location/", "/api/v1/me/", "/api/v1/devices/"])
def test_hostile_bodies_for_authenticated_endpoints_and_the_fast_path(url, settings):
    me = _me()
    method = "PATCH" if url == "/api/v1/me/" else "POST"
    deep = me.generic(method, url, "[" * 5000 + "]" * 5000, content_type="application/json")
    assert deep.status_code == 400
    settings.API_JSON_MAX_BYTES = 512
    big = me.generic(
        method, url, json.dumps({"lat": 56.1, "pad": "x" * 600}), content_type="application/json"
    )
    assert big.status_code == 400
    assert "too large" in big.json()["detail"]
