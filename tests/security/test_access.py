"""Who reaches what: every console page, its JSON, the admin and the API, for anonymous users,
volunteers, another volunteer, dispatchers and admins; personal data only to the responder."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert
from amk.models import Incident
from tests.factories import (
    AlertFactory,
    DefibrillatorFactory,
    DeviceFactory,
    DispatcherFactory,
    IncidentFactory,
    UserFactory,
    VolunteerFactory,
)
from volunteers.services.accounts import auth_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _throttles_from_zero(fresh_cache):
    """Every test here counts throttles and lock-outs from zero."""


def _token_client(volunteer) -> APIClient:
    client = APIClient()
    token = auth_token_create(user=volunteer.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def incident(reference_geography):
    return IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)


def _console_urls(incident_id: int) -> list[tuple[str, str]]:
    get = [
        reverse("amk:incident_list"),
        reverse("amk:incident_create"),
        reverse("amk:incident_detail", args=[incident_id]),
        reverse("amk:incident_board", args=[incident_id]),
        reverse("amk:place_search") + "?q=Aarhus",
    ]
    post = [
        reverse(f"amk:incident_{action}", args=[incident_id])
        for action in ("cancel", "close", "escalate", "note")
    ]
    return [("get", u) for u in get] + [("post", u) for u in post]


def _as(client, role: str, incident):
    """Log the Django test client in as one of the roles."""
    if role == "volunteer":
        client.force_login(VolunteerFactory().user)
    elif role == "staff_not_dispatcher":
        client.force_login(UserFactory(is_staff=True))
    elif role == "dispatcher":
        client.force_login(DispatcherFactory())
    elif role == "admin":
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("role", ["anonymous", "volunteer", "staff_not_dispatcher"])
def test_console_and_its_json_are_closed_to_everyone_but_dispatchers(client, incident, role):
    _as(client, role, incident)
    for method, url in _console_urls(incident.pk):
        response = getattr(client, method)(url)
        expected = {302} if role == "anonymous" else {403}
        assert response.status_code in expected, (role, method, url, response.status_code)
        if role == "anonymous":
            assert response["Location"].startswith(reverse("login"))
    incident.refresh_from_db()
    assert incident.state == Incident.State.DISPATCHING  # no action got through


@pytest.mark.parametrize("role", ["dispatcher", "admin"])
def test_dispatchers_and_admins_reach_the_console(client, incident, role):
    _as(client, role, incident)
    for _method, url in _console_urls(incident.pk)[:5]:
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("amk:incident_board", args=[999999])).status_code == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("volunteer", 302), ("dispatcher", 302), ("admin", 200)],
)
def test_admin_is_for_staff_only(client, incident, role, status):
    _as(client, role, incident)
    assert client.get(reverse("admin:index")).status_code == status


def test_a_volunteer_token_does_not_open_the_console(incident):
    api = _token_client(VolunteerFactory())
    response = api.get(reverse("amk:incident_board", args=[incident.pk]))
    assert response.status_code == 302  # the console knows sessions only: to the login page


def test_a_session_does_not_open_the_api(client, incident):
    client.force_login(DispatcherFactory())
    assert client.get("/api/v1/me/").status_code == 401


def test_demo_phone_is_absent_outside_demo_mode(client, incident):
    client.force_login(DispatcherFactory())
    assert client.get("/demo/phone/").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/alerts/{alert}/",
        "/api/v1/alerts/{alert}/accept/",
        "/api/v1/alerts/{alert}/decline/",
        "/api/v1/alerts/{alert}/receipt/",
        "/api/v1/alerts/{alert}/progress/",
        "/api/v1/alerts/{alert}/debrief/",
        "/api/v1/devices/{device}/",
    ],
)
def test_another_volunteers_objects_are_not_found(incident, path):
    owner = VolunteerFactory()
    alert = AlertFactory(incident=incident, volunteer=owner, state=Alert.State.SENT)
    device = DeviceFactory(volunteer=owner)
    intruder = _token_client(VolunteerFactory())
    url = path.format(alert=alert.pk, device=device.pk)
    body = {"state": "en_route", "outcome": "fine", "wants_call": False, "push_token": "x" * 40}
    method = "get" if path.endswith("/{alert}/") else "post"
    if "devices" in path:
        for method in ("put", "delete"):
            assert getattr(intruder, method)(url, body).status_code == 404
        assert DeviceFactory._meta.model.objects.filter(pk=device.pk, is_active=True).exists()
        return
    assert getattr(intruder, method)(url, body).status_code == 404
    alert.refresh_from_db()
    assert alert.state == Alert.State.SENT


def _secret_bits(data) -> str:
    return repr(data)


def test_patient_address_and_cabinet_code_only_to_the_accepted_responder_while_active(incident):
    aed = DefibrillatorFactory(cabinet_code="9137", opening_hours="24/7")
    responder = VolunteerFactory()
    waiting = VolunteerFactory()
    accepted = AlertFactory(
        incident=incident, volunteer=responder, state=Alert.State.ACCEPTED, role="aed", aed=aed
    )
    other = AlertFactory(incident=incident, volunteer=waiting, state=Alert.State.SENT)

    mine = _token_client(responder).get(f"/api/v1/alerts/{accepted.pk}/").json()
    assert mine["assignment"]["address"] == incident.address
    assert mine["assignment"]["aed"]["cabinet_code"] == "9137"

    for client, alert_id in ((_token_client(waiting), other.pk),):
        seen = _secret_bits(client.get(f"/api/v1/alerts/{alert_id}/").json())
        seen += _secret_bits(client.get("/api/v1/alerts/").json())
        assert incident.address not in seen
        assert "9137" not in seen
        assert f"{incident.location.y:.4f}"[:7] not in seen
    # Nearby AEDs never carry codes.
    nearby = _token_client(waiting).get(
        "/api/v1/aeds/", {"lat": incident.location.y, "lon": incident.location.x}
    )
    assert nearby.status_code == 200
    assert "9137" not in nearby.content.decode()

    # Once the incident has ended, even the responder no longer sees them.
    Incident.objects.filter(pk=incident.pk).update(
        state=Incident.State.CLOSED, closed_at=timezone.now()
    )
    after = _token_client(responder)
    seen = _secret_bits(after.get(f"/api/v1/alerts/{accepted.pk}/").json())
    seen += _secret_bits(after.get("/api/v1/alerts/").json())
    assert incident.address not in seen
    assert "9137" not in seen


def test_the_export_of_my_data_holds_no_incident_address(incident):
    responder = VolunteerFactory()
    AlertFactory(incident=incident, volunteer=responder, state=Alert.State.ACCEPTED)
    Incident.objects.filter(pk=incident.pk).update(
        state=Incident.State.CLOSED, closed_at=timezone.now()
    )
    export = _token_client(responder).get("/api/v1/me/export/")
    assert export.status_code == 200
    assert incident.address not in export.content.decode()
