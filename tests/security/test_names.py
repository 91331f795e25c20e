"""Volunteers' names (issue 15, point 4): letters of any script, spaces, hyphens, apostrophes and
periods, 1-60 characters after trimming, at sign-up and on the profile; anything else is a 400
that names the field and gives the reason in Danish."""

import re

import pytest
from rest_framework.test import APIClient

from alerts.models import OutboxMessage
from tests.factories import VolunteerFactory
from volunteers.models import Volunteer
from volunteers.services.accounts import auth_token_create

pytestmark = pytest.mark.django_db

PHONE = "+4560123499"

ACCEPTED = [
    ("Søren Ærø-Åberg", "Søren Ærø-Åberg"),
    ("  José  ", "José"),
    ("O'Brien", "O'Brien"),
    ("O\u2019Neill", "O\u2019Neill"),
    ("'t Hooft", "'t Hooft"),
    ("J. R. R.", "J. R. R."),
    ("Zoe\u0308", "Zo\u00eb"),  # a decomposed accent is stored composed (NFC)
    ("Łukasz", "Łukasz"),
    ("Дмитрий", "Дмитрий"),
    ("محمد", "محمد"),
    ("x" * 60, "x" * 60),
]
REFUSED = [
    ("<b>Mette</b>", "<"),
    ('Mette"><img src=x>', '"'),
    ("Mette2", "'2'"),
    ("Mette\x07", "\\x07"),
    ("Mette\u200b", "\\u200b"),
    ("Mette \U0001f600", "\U0001f600"),
    ("https://evil.example/x", "':'"),
    ("Mette@evil", "'@'"),
    ("Mette\nJensen", "\\n"),
]


@pytest.fixture(autouse=True)
def _throttles_from_zero(fresh_cache, codes_sent_inline):
    """Every test here counts throttles from zero and sends codes at once."""


def _sign_up(**names) -> tuple[APIClient, object]:
    api = APIClient()
    assert api.post("/api/v1/auth/code/", {"phone": PHONE}, format="json").status_code == 202
    sms = OutboxMessage.objects.filter(channel="sms", recipient=PHONE).latest("created_at")
    code = re.search(r"\b(\d{6})\b", sms.body).group(1)
    data = {
        "phone": PHONE,
        "code": code,
        "first_name": "Mette",
        "last_name": "Jensen",
        "date_of_birth": "1985-04-12",
        "terms_version": "2025-01",
        "location_consent_version": "2025-01",
        **names,
    }
    return api, api.post("/api/v1/auth/signup/", data, format="json")


def _me() -> tuple[Volunteer, APIClient]:
    volunteer = VolunteerFactory(user__first_name="Mette", user__last_name="Jensen")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {auth_token_create(user=volunteer.user)}")
    return volunteer, client


@pytest.mark.parametrize(("given", "stored"), ACCEPTED)
def test_sign_up_accepts_names_in_any_script(given, stored):
    _api, response = _sign_up(first_name=given, last_name=given)
    assert response.status_code == 201, response.content
    user = Volunteer.objects.get(phone=PHONE).user
    assert (user.first_name, user.last_name) == (stored, stored)


@pytest.mark.parametrize(("given", "shown"), REFUSED)
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_sign_up_refuses_a_hostile_name_naming_the_field_in_danish(given, shown, field):
    _api, response = _sign_up(**{field: given})
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == [field]
    assert body[field][0].startswith("Et navn må kun indeholde bogstaver")
    assert shown in body[field][0]
    assert not Volunteer.objects.filter(phone=PHONE).exists()


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("x" * 61, "Et navn må højst være 60 tegn langt."),
        ("  " + "x" * 61 + "  ", "Et navn må højst være 60 tegn langt."),
        ("-. '", "Et navn skal indeholde et bogstav."),
    ],
)
def test_sign_up_refuses_too_long_or_letterless_names(given, reason):
    _api, response = _sign_up(last_name=given)
    assert response.status_code == 400
    assert response.json() == {"last_name": [reason]}


def test_sign_up_refuses_a_blank_name():
    _api, response = _sign_up(first_name="   ")
    assert response.status_code == 400
    assert "first_name" in response.json()


@pytest.mark.parametrize(("given", "stored"), ACCEPTED[:4])
def test_profile_update_accepts_and_trims_names(given, stored):
    volunteer, me = _me()
    response = me.patch("/api/v1/me/", {"first_name": given}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["first_name"] == stored
    volunteer.user.refresh_from_db()
    assert volunteer.user.first_name == stored


@pytest.mark.parametrize(("given", "shown"), REFUSED)
def test_profile_update_refuses_a_hostile_name_and_changes_nothing(given, shown):
    volunteer, me = _me()
    response = me.patch("/api/v1/me/", {"last_name": given, "is_available": False}, format="json")
    assert response.status_code == 400
    message = response.json()["last_name"][0]
    assert message.startswith("Et navn må kun indeholde bogstaver")
    assert shown in message
    volunteer.refresh_from_db()
    volunteer.user.refresh_from_db()
    assert volunteer.user.last_name == "Jensen"
    assert volunteer.is_available


def test_profile_update_refuses_a_name_over_60_characters():
    _volunteer, me = _me()
    response = me.patch("/api/v1/me/", {"first_name": "a" * 61}, format="json")
    assert response.status_code == 400
    assert response.json() == {"first_name": ["Et navn må højst være 60 tegn langt."]}
