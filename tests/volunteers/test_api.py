"""The volunteers' mobile API: sign-up and login by SMS code, profile, devices, location, alerts."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert, OutboxMessage
from amk.models import Incident
from config.exceptions import ApplicationError
from tests.factories import (
    AARHUS_C,
    AlertFactory,
    DefibrillatorFactory,
    DeviceFactory,
    IncidentFactory,
    LocalAreaFactory,
    VolunteerFactory,
    point,
    responder_on_scene,
)
from volunteers.models import Consent, Debrief, PhoneCode, Volunteer
from volunteers.services.accounts import auth_token_create

pytestmark = pytest.mark.django_db

PHONE = "+4560123456"
TERMS = {"terms_version": "2025-01", "location_consent_version": "2025-01"}


@pytest.fixture(autouse=True)
def _throttles_from_zero(fresh_cache, codes_sent_inline):
    """Every test here counts throttles and lock-outs from zero."""


@pytest.fixture
def api():
    return APIClient()


def client_for(volunteer: Volunteer) -> APIClient:
    client = APIClient()
    token = auth_token_create(user=volunteer.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def volunteer():
    return VolunteerFactory()


@pytest.fixture
def me(volunteer):
    return client_for(volunteer)


def last_code(phone: str = PHONE) -> str:
    message = OutboxMessage.objects.filter(channel="sms", recipient=phone).latest("created_at")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def request_code(api, phone: str = PHONE) -> str:
    response = api.post("/api/v1/auth/code/", {"phone": phone}, format="json")
    assert response.status_code == 202, response.content
    return last_code(phone if phone.startswith("+") else "+45" + phone.replace(" ", ""))


def sign_up_data(code_: str, **overrides) -> dict:
    data = {
        "phone": PHONE,
        "code": code_,
        "first_name": "Mette",
        "last_name": "Jensen",
        "date_of_birth": "1985-04-12",
        "first_aid_course_on": "2024-03-01",
        **TERMS,
    }
    data.update(overrides)
    return data


# --- Sign-up and login ---------------------------------------------------------------------------


def test_sign_up_by_sms_code_gives_a_working_token_and_records_consent(api):
    code = request_code(api, "60 12 34 56")  # Danish numbers without +45 are accepted
    stored = PhoneCode.objects.get(phone=PHONE)
    assert code not in stored.code_hash
    assert len(stored.code_hash) == 64

    response = api.post("/api/v1/auth/signup/", sign_up_data(code), format="json")

    assert response.status_code == 201, response.content
    volunteer = Volunteer.objects.get(phone=PHONE)
    assert volunteer.phone_verified_at is not None
    assert volunteer.user.first_name == "Mette"
    assert not volunteer.user.has_usable_password()
    assert set(volunteer.consents.values_list("kind", "version")) == {
        (Consent.Kind.TERMS, "2025-01"),
        (Consent.Kind.LOCATION, "2025-01"),
    }
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    profile = api.get("/api/v1/me/").json()
    assert profile["phone"] == PHONE
    assert profile["first_aid_course_on"] == "2024-03-01"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"date_of_birth": str(timezone.localdate() - dt.timedelta(days=365 * 17))},
            "date_of_birth",
        ),
        ({"date_of_birth": "not a date"}, "date_of_birth"),
        ({"terms_version": "2019-01"}, "terms_version"),
        ({"location_consent_version": "old"}, "location_consent_version"),
        (
            {"first_aid_course_on": str(timezone.localdate() + dt.timedelta(days=3))},
            "first_aid_course_on",
        ),
        ({"phone": "12"}, "phone"),
        ({"code": "12ab56"}, "code"),
        ({"first_name": ""}, "first_name"),
    ],
)
def test_sign_up_refuses_invalid_details_naming_the_field(api, overrides, field):
    code = request_code(api)
    response = api.post("/api/v1/auth/signup/", sign_up_data(code, **overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Volunteer.objects.filter(phone=PHONE).exists()


def test_code_is_single_use(api):
    code = request_code(api)
    assert api.post("/api/v1/auth/signup/", sign_up_data(code), format="json").status_code == 201
    again = api.post("/api/v1/auth/login/", {"phone": PHONE, "code": code}, format="json")
    assert again.status_code == 400
    assert "code" in again.json()


def test_code_expires(api, settings):
    code = request_code(api)
    PhoneCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = api.post("/api/v1/auth/signup/", sign_up_data(code), format="json")
    assert response.status_code == 400
    assert "code" in response.json()


def test_wrong_codes_are_limited_then_even_the_right_one_fails(api, settings):
    settings.OTP_MAX_ATTEMPTS = 3
    code = request_code(api)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(3):
        response = api.post("/api/v1/auth/signup/", sign_up_data(wrong), format="json")
        assert response.status_code == 400
    response = api.post("/api/v1/auth/signup/", sign_up_data(code), format="json")
    assert response.status_code == 400
    assert "For mange" in response.json()["code"][0]


def test_a_new_code_replaces_the_old(api):
    first = request_code(api)
    second = request_code(api)
    if first != second:
        assert (
            api.post("/api/v1/auth/signup/", sign_up_data(first), format="json").status_code == 400
        )
    assert api.post("/api/v1/auth/signup/", sign_up_data(second), format="json").status_code == 201


def test_sign_up_with_a_registered_phone_is_a_conflict(api):
    VolunteerFactory(phone=PHONE)
    code = request_code(api)
    response = api.post("/api/v1/auth/signup/", sign_up_data(code), format="json")
    assert response.status_code == 409
    assert "phone" in response.json()


def test_login_gives_a_token_per_device_and_logout_revokes_only_that_one(api):
    volunteer = VolunteerFactory(phone=PHONE, phone_verified_at=None)
    tokens = []
    for _ in range(2):
        code = request_code(api)
        response = api.post("/api/v1/auth/login/", {"phone": PHONE, "code": code}, format="json")
        assert response.status_code == 200, response.content
        tokens.append(response.json()["token"])
    volunteer.refresh_from_db()
    assert volunteer.phone_verified_at is not None
    phone_a, phone_b = APIClient(), APIClient()
    phone_a.credentials(HTTP_AUTHORIZATION=f"Token {tokens[0]}")
    phone_b.credentials(HTTP_AUTHORIZATION=f"Token {tokens[1]}")

    for client, token in ((phone_a, "push-token-a"), (phone_b, "push-token-b")):
        device = {"push_token": token, "platform": "android"}
        assert client.post("/api/v1/devices/", device, format="json").status_code == 201

    assert phone_a.post("/api/v1/auth/logout/").status_code == 204

    assert phone_a.get("/api/v1/me/").status_code == 401
    assert phone_b.get("/api/v1/me/").status_code == 200
    # The logged-out phone gets no more alerts; the other one still does.
    active = dict(volunteer.devices.values_list("push_token", "is_active"))
    assert active == {"push-token-a": False, "push-token-b": True}


def test_login_of_an_unknown_phone_is_refused(api):
    code = request_code(api)
    response = api.post("/api/v1/auth/login/", {"phone": PHONE, "code": code}, format="json")
    assert response.status_code == 400
    assert "phone" in response.json()


def test_expired_token_is_refused(volunteer):
    from knox.models import AuthToken

    client = client_for(volunteer)
    AuthToken.objects.update(expiry=timezone.now() - dt.timedelta(seconds=1))
    assert client.get("/api/v1/me/").status_code == 401


def test_terms_versions_are_public(api):
    assert api.get("/api/v1/terms/").json() == TERMS


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/me/"),
        ("patch", "/api/v1/me/"),
        ("delete", "/api/v1/me/"),
        ("put", "/api/v1/me/availability/"),
        ("post", "/api/v1/me/location/"),
        ("get", "/api/v1/me/export/"),
        ("get", "/api/v1/devices/"),
        ("post", "/api/v1/devices/"),
        ("put", "/api/v1/devices/1/"),
        ("get", "/api/v1/alerts/"),
        ("get", "/api/v1/alerts/1/"),
        ("post", "/api/v1/alerts/1/accept/"),
        ("post", "/api/v1/alerts/1/debrief/"),
        ("get", "/api/v1/aeds/?lat=56.15&lon=10.2"),
        ("post", "/api/v1/auth/logout/"),
    ],
)
def test_every_endpoint_but_sign_up_needs_a_token(api, method, url):
    assert getattr(api, method)(url, {}, format="json").status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Token " + "x" * 64)
    assert getattr(api, method)(url, {}, format="json").status_code == 401


# --- Throttling ----------------------------------------------------------------------------------


def test_code_requests_are_throttled_per_phone(api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
        | {"otp_phone": "2/hour"},
    }
    for _ in range(2):
        assert api.post("/api/v1/auth/code/", {"phone": PHONE}).status_code == 202
    assert api.post("/api/v1/auth/code/", {"phone": "60123456"}).status_code == 429
    assert api.post("/api/v1/auth/code/", {"phone": "+4560123457"}).status_code == 202


def test_code_requests_are_throttled_per_ip(api, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "otp_ip": "3/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for n in range(3):
        assert api.post("/api/v1/auth/code/", {"phone": f"+456012345{n}"}).status_code == 202
    assert api.post("/api/v1/auth/code/", {"phone": "+4560123459"}).status_code == 429
    other_ip = api.post("/api/v1/auth/code/", {"phone": "+4560123459"}, REMOTE_ADDR="10.0.0.9")
    assert other_ip.status_code == 202


def test_login_attempts_are_throttled(api, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login_phone": "2/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for _ in range(2):
        api.post("/api/v1/auth/login/", {"phone": PHONE, "code": "000000"})
    assert api.post("/api/v1/auth/login/", {"phone": PHONE, "code": "000000"}).status_code == 429


def test_location_updates_are_limited_per_volunteer(volunteer, me, settings):
    settings.LOCATION_MIN_INTERVAL_S = 30
    Volunteer.objects.filter(pk=volunteer.pk).update(
        location_updated_at=timezone.now() - dt.timedelta(hours=1)
    )
    assert me.post("/api/v1/me/location/", location_data()).status_code == 204
    too_soon = me.post("/api/v1/me/location/", location_data(lat=56.172))
    assert too_soon.status_code == 429
    wait = int(too_soon["Retry-After"])
    assert 1 <= wait <= 30
    assert too_soon.json()["detail"] == f"For mange forespørgsler. Prøv igen om {wait} sekunder."
    volunteer.refresh_from_db()
    assert round(volunteer.location.y, 3) == 56.17  # the refused one was not stored
    # Another volunteer is not held back by this one.
    other = client_for(VolunteerFactory())
    assert other.post("/api/v1/me/location/", location_data()).status_code == 204
    Volunteer.objects.filter(pk=volunteer.pk).update(
        location_received_at=timezone.now() - dt.timedelta(seconds=31)
    )
    later = location_data(lat=56.172, measured_at=timezone.now().isoformat())
    assert me.post("/api/v1/me/location/", later).status_code == 204
    volunteer.refresh_from_db()
    assert round(volunteer.location.y, 3) == 56.172  # 200 m on: a walk, not a jump


# --- Profile, availability -----------------------------------------------------------------------


def test_profile_changes_and_read_only_membership(volunteer, me):
    response = me.patch(
        "/api/v1/me/",
        {
            "first_name": "Anne",
            "quiet_hours_start": "23:00",
            "quiet_hours_end": "06:30",
            "is_heart_runner": False,
            "corps": {"id": 1, "name": "X"},
            "phone": "+4511111111",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["first_name"] == "Anne"
    assert body["quiet_hours_start"] == "23:00:00"
    assert body["quiet_hours_end"] == "06:30:00"
    assert body["is_heart_runner"] is True
    assert body["corps"] is None
    volunteer.refresh_from_db()
    assert volunteer.quiet_hours_start == dt.time(23, 0)
    assert volunteer.phone != "+4511111111"
    assert volunteer.is_heart_runner


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"quiet_hours_start": "23:00"}, "quiet_hours_end"),
        ({"quiet_hours_start": "25:00", "quiet_hours_end": "06:00"}, "quiet_hours_start"),
        ({"date_of_birth": str(timezone.localdate())}, "date_of_birth"),
        ({"is_available": "maybe"}, "is_available"),
        ({"first_name": "x" * 151}, "first_name"),
    ],
)
def test_profile_validation(me, data, field):
    response = me.patch("/api/v1/me/", data, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_corps_membership_is_shown(reference_geography):
    area = LocalAreaFactory()
    volunteer = VolunteerFactory(local_area=area)
    body = client_for(volunteer).get("/api/v1/me/").json()
    assert body["corps"] == {"id": area.pk, "name": area.name}


def test_availability_on_and_off(volunteer, me):
    response = me.put("/api/v1/me/availability/", {"is_available": False}, format="json")
    assert response.status_code == 200
    assert response.json() == {"is_available": False}
    volunteer.refresh_from_db()
    assert volunteer.is_available is False
    assert me.put("/api/v1/me/availability/", {}, format="json").status_code == 400


# --- Location ------------------------------------------------------------------------------------


def location_data(**overrides) -> dict:
    data = {
        "lat": 56.17,
        "lon": 10.19,
        "accuracy_m": 12,
        "measured_at": (timezone.now() - dt.timedelta(seconds=5)).isoformat(),
    }
    data.update(overrides)
    return data


def test_location_keeps_only_the_latest_position_in_one_query(
    volunteer, me, django_assert_num_queries
):
    Volunteer.objects.filter(pk=volunteer.pk).update(
        location_updated_at=timezone.now() - dt.timedelta(hours=1)
    )
    with django_assert_num_queries(1):  # token, rate limit and UPDATE in one statement
        response = me.post("/api/v1/me/location/", location_data(), format="json")
    assert response.status_code == 204, response.content
    volunteer.refresh_from_db()
    assert (round(volunteer.location.y, 2), round(volunteer.location.x, 2)) == (56.17, 10.19)
    assert volunteer.location_accuracy_m == 12
    # An older reading arriving late does not overwrite the newer one.
    older = location_data(lat=56.0)
    older["measured_at"] = (timezone.now() - dt.timedelta(seconds=60)).isoformat()
    Volunteer.objects.filter(pk=volunteer.pk).update(location_received_at=None)  # not too soon
    assert me.post("/api/v1/me/location/", older, format="json").status_code == 204
    volunteer.refresh_from_db()
    assert round(volunteer.location.y, 2) == 56.17


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"lat": 48.85, "lon": 2.35}, "lat", "uden for Danmark"),
        ({"lat": 55.6, "lon": 13.0}, "lat", "uden for Danmark"),  # Malmö, inside the bbox
        ({"accuracy_m": 500}, "accuracy_m", "unøjagtig"),
        ({"measured_at": "2099-01-01T00:00:00Z"}, "measured_at", "fremtiden"),
        ({"measured_at": "2020-01-01T00:00:00Z"}, "measured_at", "gammel"),
        ({"lat": "north"}, "lat", ""),
        ({"lat": 91}, "lat", "90"),
        ({"accuracy_m": -1}, "accuracy_m", "0"),
        ({"measured_at": "yesterday"}, "measured_at", ""),
    ],
)
def test_location_is_refused_with_a_reason(volunteer, me, overrides, field, reason):
    before = volunteer.location
    response = me.post("/api/v1/me/location/", location_data(**overrides), format="json")
    assert response.status_code == 400
    assert reason in " ".join(response.json()[field])
    volunteer.refresh_from_db()
    assert volunteer.location == before


def test_location_can_be_forgotten(volunteer, me):
    assert me.delete("/api/v1/me/location/").status_code == 204
    volunteer.refresh_from_db()
    assert volunteer.location is None
    assert volunteer.location_updated_at is None


# --- Devices -------------------------------------------------------------------------------------


def test_devices_register_list_replace_delete(volunteer, me):
    response = me.post(
        "/api/v1/devices/", {"push_token": "tok-1", "platform": "ios"}, format="json"
    )
    assert response.status_code == 201, response.content
    device_id = response.json()["id"]
    again = me.post("/api/v1/devices/", {"push_token": "tok-1", "platform": "ios"}, format="json")
    assert again.json()["id"] == device_id  # the same token is the same device
    listed = me.get("/api/v1/devices/").json()
    assert [d["push_token"] for d in listed] == ["tok-1"]

    replaced = me.put(f"/api/v1/devices/{device_id}/", {"push_token": "tok-2"}, format="json")
    assert replaced.status_code == 200
    assert replaced.json()["push_token"] == "tok-2"
    assert volunteer.devices.get().push_token == "tok-2"

    assert me.delete(f"/api/v1/devices/{device_id}/").status_code == 204
    assert not volunteer.devices.exists()


def test_deleting_a_device_revokes_the_session_that_registered_it(volunteer, me):
    lost_phone = client_for(volunteer)
    registered = lost_phone.post(
        "/api/v1/devices/", {"push_token": "tok-lost", "platform": "android"}, format="json"
    )
    assert lost_phone.get("/api/v1/me/").status_code == 200

    assert me.delete(f"/api/v1/devices/{registered.json()['id']}/").status_code == 204

    assert lost_phone.get("/api/v1/me/").status_code == 401
    assert me.get("/api/v1/me/").status_code == 200  # the other session goes on


def test_device_validation(me):
    response = me.post("/api/v1/devices/", {"push_token": "t", "platform": "nokia"}, format="json")
    assert response.status_code == 400
    assert "platform" in response.json()


def test_another_volunteers_device_is_not_found(me):
    other = DeviceFactory()
    url = f"/api/v1/devices/{other.pk}/"
    assert me.put(url, {"push_token": "stolen"}, format="json").status_code == 404
    assert me.delete(url).status_code == 404
    other.refresh_from_db()
    assert other.push_token != "stolen"
    assert me.get("/api/v1/devices/").json() == []


# --- Alerts --------------------------------------------------------------------------------------


@pytest.fixture
def alert(reference_geography, volunteer):
    incident = IncidentFactory(address="Store Torv 1, 8000 Aarhus C", state="dispatching")
    return AlertFactory(incident=incident, volunteer=volunteer, distance_m=843, state="sent")


def test_alert_list_and_detail_before_acceptance_hide_the_address(me, alert):
    AlertFactory(incident=alert.incident)  # someone else's
    listed = me.get("/api/v1/alerts/").json()
    assert [a["id"] for a in listed] == [alert.pk]

    detail = me.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert detail["approximate_distance_m"] == 800
    assert detail["municipality"] == "Aarhus"
    assert detail["assignment"] is None
    assert "Store Torv" not in str(detail)


def test_accept_returns_the_address_role_and_aed_and_reaches_the_board(me, alert):
    from amk.console.board import incident_board

    DefibrillatorFactory(
        location=point(AARHUS_C[0], AARHUS_C[1] + 0.002),
        cabinet_code="4711",
        placement="Ved døren",
    )
    responder_on_scene(alert.incident)
    assert me.post(f"/api/v1/alerts/{alert.pk}/receipt/").json()["state"] == "delivered"

    response = me.post(f"/api/v1/alerts/{alert.pk}/accept/")

    assert response.status_code == 200, response.content
    assignment = response.json()["assignment"]
    assert assignment["address"] == "Store Torv 1, 8000 Aarhus C"
    assert assignment["location"] == {"lat": AARHUS_C[1], "lon": AARHUS_C[0]}
    assert assignment["role"] == "aed"
    assert assignment["aed"]["cabinet_code"] == "4711"
    assert assignment["aed"]["placement"] == "Ved døren"
    board = incident_board(incident_id=alert.incident_id)
    row = next(r for r in board["alerts"] if r["id"] == alert.pk)
    assert row["state"] == "accepted"
    assert row["role"] == "aed"
    assert board["counts"]["accepted"] == 2  # and the one on scene

    for step in ("en_route", "aed_collected", "on_scene"):
        assert (
            me.post(f"/api/v1/alerts/{alert.pk}/progress/", {"state": step}).json()["state"] == step
        )
    finished = me.post(f"/api/v1/alerts/{alert.pk}/progress/", {"state": "finished"}).json()
    assert finished["state"] == "released"
    assert finished["assignment"] is None


def test_cpr_role_has_no_aed(me, alert):
    body = me.post(f"/api/v1/alerts/{alert.pk}/accept/").json()
    assert body["assignment"]["role"] == "cpr"
    assert body["assignment"]["aed"] is None


def test_address_is_hidden_once_the_incident_has_ended(me, alert):
    me.post(f"/api/v1/alerts/{alert.pk}/accept/")
    Incident.objects.filter(pk=alert.incident_id).update(state="closed", closed_at=timezone.now())
    assert me.get(f"/api/v1/alerts/{alert.pk}/").json()["assignment"] is None


def test_accept_after_the_incident_ended_is_a_conflict(me, alert):
    Incident.objects.filter(pk=alert.incident_id).update(
        state="cancelled", closed_at=timezone.now()
    )
    response = me.post(f"/api/v1/alerts/{alert.pk}/accept/")
    assert response.status_code == 409
    assert response.json()["detail"]


def test_accepting_while_on_the_way_to_another_alert_is_a_conflict_in_danish(me, alert):
    elsewhere = AlertFactory(
        volunteer=alert.volunteer,
        incident=IncidentFactory(state="active"),
        state="en_route",
        answered_at=timezone.now(),
    )

    response = me.post(f"/api/v1/alerts/{alert.pk}/accept/", HTTP_ACCEPT_LANGUAGE="da")

    assert response.status_code == 409
    assert response.json() == {"detail": "Du er allerede på vej til en anden alarm."}
    assert me.get(f"/api/v1/alerts/{alert.pk}/").json()["state"] == "sent"
    # Once that one is finished, this one can be accepted.
    finished = me.post(f"/api/v1/alerts/{elsewhere.pk}/progress/", {"state": "finished"})
    assert finished.json()["state"] == "released"
    assert me.post(f"/api/v1/alerts/{alert.pk}/accept/").status_code == 200


def test_decline_then_accept_is_a_conflict(me, alert):
    assert me.post(f"/api/v1/alerts/{alert.pk}/decline/").json()["state"] == "declined"
    assert me.post(f"/api/v1/alerts/{alert.pk}/accept/").status_code == 409


@pytest.mark.parametrize(
    ("data", "status"),
    [({"state": "flying"}, 400), ({}, 400), ({"state": "on_scene"}, 400)],
)
def test_progress_validation(me, alert, data, status):
    response = me.post(f"/api/v1/alerts/{alert.pk}/progress/", data, format="json")
    assert response.status_code == status
    assert "state" in response.json()


def test_aed_collected_without_an_aed_role_is_refused(me, alert):
    me.post(f"/api/v1/alerts/{alert.pk}/accept/")
    response = me.post(f"/api/v1/alerts/{alert.pk}/progress/", {"state": "aed_collected"})
    assert response.status_code == 400
    assert "state" in response.json()


@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [
        ("get", "", None),
        ("post", "receipt/", None),
        ("post", "accept/", None),
        ("post", "decline/", None),
        ("post", "progress/", {"state": "en_route"}),
        ("post", "debrief/", {"outcome": "fine", "wants_call": True}),
    ],
)
def test_another_volunteers_alert_is_not_found(reference_geography, me, method, suffix, data):
    other = AlertFactory(state="accepted", role="cpr")
    response = getattr(me, method)(f"/api/v1/alerts/{other.pk}/{suffix}", data, format="json")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}
    other.refresh_from_db()
    assert other.state == "accepted"
    assert not other.debriefs.exists()


# --- Debrief -------------------------------------------------------------------------------------


def test_debrief_with_a_call_request_reaches_the_admin_list(me, alert, admin_client):
    me.post(f"/api/v1/alerts/{alert.pk}/accept/")
    response = me.post(
        f"/api/v1/alerts/{alert.pk}/debrief/",
        {"outcome": "hard", "comment": "Han overlevede ikke.", "wants_call": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    debrief = Debrief.objects.get()
    assert debrief.wants_call
    assert not debrief.handled

    page = admin_client.get("/admin/volunteers/debrief/?wants_call__exact=1&handled__exact=0")
    assert page.status_code == 200
    assert str(alert.volunteer.phone) in page.content.decode()


def test_debrief_before_answering_is_a_conflict_and_validated(me, alert):
    url = f"/api/v1/alerts/{alert.pk}/debrief/"
    assert me.post(url, {"outcome": "fine", "wants_call": False}).status_code == 409
    me.post(f"/api/v1/alerts/{alert.pk}/accept/")
    response = me.post(url, {"outcome": "meh", "wants_call": False}, format="json")
    assert response.status_code == 400
    assert "outcome" in response.json()


# --- Nearby AEDs ---------------------------------------------------------------------------------


def test_nearby_aeds_with_availability_and_no_cabinet_codes(me):
    near = DefibrillatorFactory(location=point(10.211, 56.157), cabinet_code="9999")
    # Open one minute a day, twelve hours from now (a fixed 00:00-00:01 was open at midnight).
    opens = timezone.localtime() + dt.timedelta(hours=12)
    closes = opens + dt.timedelta(minutes=1)
    closed = DefibrillatorFactory(
        location=point(10.212, 56.157),
        opening_hours=f"Mo-Su {opens:%H:%M}-{closes:%H:%M}",
        cabinet_code="8888",
    )
    DefibrillatorFactory(location=point(10.5, 56.3))  # far away
    DefibrillatorFactory(location=point(10.2105, 56.157), status="inactive")

    response = me.get("/api/v1/aeds/", {"lat": 56.157, "lon": 10.2108, "radius_m": 1000})

    assert response.status_code == 200
    body = response.json()
    assert [a["id"] for a in body] == [near.pk, closed.pk]
    assert body[0]["available_now"] is True
    assert body[1]["available_now"] is False
    assert "9999" not in response.content.decode()
    assert "cabinet_code" not in body[0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 56.1}, "lon"),
        ({"lat": 40.0, "lon": 10.0}, "lat"),
        ({"lat": 56.1, "lon": 10.2, "radius_m": 100000}, "radius_m"),
    ],
)
def test_nearby_aeds_validation(me, params, field):
    response = me.get("/api/v1/aeds/", params)
    assert response.status_code == 400
    assert field in response.json()


# --- My data -------------------------------------------------------------------------------------


def test_export_contains_everything_about_me(volunteer, me, alert):
    DeviceFactory(volunteer=volunteer, push_token="my-token")
    Consent.objects.create(volunteer=volunteer, kind="terms", version="2025-01")
    response = me.get("/api/v1/me/export/")
    assert response.status_code == 200
    data = response.json()
    assert data["profile"]["phone"] == str(volunteer.phone)
    assert data["devices"][0]["push_token"] == "my-token"
    assert data["alerts"][0]["id"] == alert.pk
    assert data["consents"][0]["version"] == "2025-01"
    assert data["location"]["accuracy_m"] == 15
    assert len(data["api_tokens"]) == 1


def test_delete_account_erases_the_person_and_keeps_anonymous_alerts(volunteer, me, alert):
    Alert.objects.filter(pk=alert.pk).update(volunteer_location=point(*AARHUS_C))
    DeviceFactory(volunteer=volunteer)
    user_id = volunteer.user_id

    assert me.delete("/api/v1/me/").status_code == 204

    from django.contrib.auth import get_user_model
    from knox.models import AuthToken

    assert not Volunteer.objects.filter(pk=volunteer.pk).exists()
    assert not get_user_model().objects.filter(pk=user_id).exists()
    assert not AuthToken.objects.filter(user_id=user_id).exists()
    alert.refresh_from_db()
    assert alert.volunteer_id is None
    assert alert.volunteer_location is None
    assert me.get("/api/v1/me/").status_code == 401


# --- Error mapping -------------------------------------------------------------------------------


def test_exception_handler_maps_application_errors():
    from config.api import exception_handler

    assert exception_handler(ApplicationError("x", code="not_found"), {}).status_code == 404
    conflict = exception_handler(ApplicationError("ended", code="ended"), {})
    assert conflict.status_code == 409
    assert conflict.data == {"detail": "ended"}
    invalid = exception_handler(ApplicationError("bad", field="state"), {})
    assert invalid.status_code == 400
    assert invalid.data == {"state": ["bad"]}
