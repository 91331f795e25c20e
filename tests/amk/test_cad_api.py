"""The CAD integration API: keys, idempotent creates, conflicts, updates, ends, the state read,
and the CAD's actions on the console's timeline."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from amk.cad.models import CadApiKey, CadIncident
from amk.cad.services.keys import api_key_replace, api_key_revoke
from amk.models.incident import Incident, IncidentEvent
from tests.cad import CREATE_URL, auth, cad_system, create_body, incident_url
from tests.factories import DispatcherFactory, IncidentFactory
from volunteers.services.accounts import auth_token_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reference_geography", "fresh_cache")]


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def cad():
    return cad_system()


def test_a_repeated_create_is_the_same_incident(api, cad):
    system, key = cad
    first = api.post(CREATE_URL, create_body(), format="json", **auth(key))
    assert first.status_code == 201, first.content
    again = [api.post(CREATE_URL, create_body(), format="json", **auth(key)) for _ in range(2)]

    assert [r.status_code for r in again] == [200, 200]
    assert {r.json()["incident_id"] for r in [first, *again]} == {first.json()["incident_id"]}
    incident = Incident.objects.get()
    assert incident.created_by == system.user
    assert incident.address == "Store Torv 1, 8000 Aarhus C"
    assert incident.municipality.name == "Aarhus"
    created = incident.events.get(kind=IncidentEvent.Kind.CREATED)
    assert (created.origin, created.actor) == ("cad", system.user)


def test_a_conflicting_repeat_is_409_naming_the_fields(api, cad):
    _system, key = cad
    api.post(CREATE_URL, create_body(), format="json", **auth(key))
    moved = create_body(location={"lat": 56.17, "lon": 10.2}, address="Nørregade 2, 8000 Aarhus C")

    response = api.post(CREATE_URL, moved, format="json", **auth(key))

    assert response.status_code == 409
    assert "location, address" in response.json()["location"][0]
    assert Incident.objects.count() == 1
    # Rounding of the coordinates is no conflict.
    nudged = create_body(location={"lat": 56.156700004, "lon": 10.210800004})
    assert api.post(CREATE_URL, nudged, format="json", **auth(key)).status_code == 200


def test_numbers_are_per_system_and_a_key_sees_only_its_own_incidents(api, cad):
    _system, key = cad
    _other, other_key = cad_system(name="Nabo-CAD")
    api.post(CREATE_URL, create_body(), format="json", **auth(key))

    assert api.get(incident_url("AMK-2026-0001"), **auth(other_key)).status_code == 404
    cancel = api.post(incident_url("AMK-2026-0001", "cancel"), **auth(other_key))
    assert cancel.status_code == 404
    # The same number from another system is another incident.
    assert api.post(CREATE_URL, create_body(), format="json", **auth(other_key)).status_code == 201
    assert Incident.objects.count() == 2


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer hja_000000000000_not-a-key",
        "Bearer something",
        "Bearer",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_missing_and_wrong_keys_are_401(api, cad, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = api.post(CREATE_URL, create_body(), format="json", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Incident.objects.exists()


def test_a_revoked_key_is_401_and_a_rotated_one_works(api, cad):
    system, key = cad
    old = CadApiKey.objects.get(system=system)
    _new, new_key = api_key_replace(key=old)
    assert api.get(incident_url("X1"), **auth(key)).status_code == 404  # both valid meanwhile
    api_key_revoke(key=old)

    assert api.get(incident_url("X1"), **auth(key)).status_code == 401
    assert api.post(CREATE_URL, create_body(), format="json", **auth(new_key)).status_code == 201


def test_a_tampered_key_is_401(api, cad):
    _system, key = cad
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    assert api.get(incident_url("X1"), **auth(tampered)).status_code == 401


def test_a_deactivated_system_is_403(api, cad):
    system, key = cad
    system.is_active = False
    system.save()
    assert api.post(CREATE_URL, create_body(), format="json", **auth(key)).status_code == 403


def test_console_sessions_and_volunteer_tokens_are_no_cad_keys(api, cad, client):
    client.force_login(DispatcherFactory())
    assert (
        client.post(CREATE_URL, create_body(), content_type="application/json").status_code == 401
    )
    token = auth_token_create(user=DispatcherFactory())
    response = api.post(
        CREATE_URL, create_body(), format="json", HTTP_AUTHORIZATION=f"Token {token}"
    )
    assert response.status_code == 401


def test_last_use_is_noted_on_the_key(api, cad):
    system, key = cad
    api.get(incident_url("X1"), **auth(key))
    assert CadApiKey.objects.get(system=system).last_used_at <= timezone.now()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (create_body(location=None), "location"),
        (create_body(location={"lat": 95, "lon": 10}), "location"),
        (create_body(cad_number="a/b"), "cad_number"),
        (create_body(cad_number=""), "cad_number"),
        (create_body(exclusion_reasons=["bored"]), "exclusion_reasons"),
        (create_body(address="x" * 300), "address"),
        # Odense: outside the region, refused by the console's own check.
        (create_body(location={"lat": 55.3959, "lon": 10.3883}), "location"),
    ],
)
def test_bad_input_is_400_naming_the_field(api, cad, body, field):
    _system, key = cad
    response = api.post(CREATE_URL, body, format="json", **auth(key))
    assert response.status_code == 400
    assert field in response.json()
    assert not Incident.objects.exists()


def test_update_cancel_and_close(api, cad):
    _system, key = cad
    api.post(CREATE_URL, create_body(), format="json", **auth(key))
    url = incident_url("AMK-2026-0001")

    response = api.patch(
        url,
        {
            "location": {"lat": 56.1629, "lon": 10.2039},
            "address": "Nørrebrogade 44",
            "note": "Ring 3",
        },
        format="json",
        **auth(key),
    )

    assert response.status_code == 200, response.content
    assert response.json()["address"] == "Nørrebrogade 44"
    incident = Incident.objects.get()
    assert (round(incident.location.y, 4), incident.address) == (56.1629, "Nørrebrogade 44")
    updated = incident.events.get(kind=IncidentEvent.Kind.UPDATED)
    assert updated.origin == "cad"
    assert incident.events.get(kind=IncidentEvent.Kind.NOTE).message == "Ring 3"
    # The CAD's creation record still tells a repeat of the original create.
    assert api.post(CREATE_URL, create_body(), format="json", **auth(key)).status_code == 200
    bad = api.patch(url, {"location": {"lat": 55.3959, "lon": 10.3883}}, format="json", **auth(key))
    assert bad.status_code == 400
    assert "location" in bad.json()

    cancelled = api.post(incident_url("AMK-2026-0001", "cancel"), **auth(key))
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert api.post(incident_url("AMK-2026-0001", "cancel"), **auth(key)).status_code == 200
    assert api.post(incident_url("AMK-2026-0001", "close"), **auth(key)).status_code == 409
    assert api.patch(url, {"address": "x"}, format="json", **auth(key)).status_code == 409
    ended = Incident.objects.get().events.filter(kind=IncidentEvent.Kind.CANCELLED)
    assert [e.origin for e in ended] == ["cad"]


def test_the_state_read(api, cad):
    _system, key = cad
    api.post(CREATE_URL, create_body(), format="json", **auth(key))
    state = api.get(incident_url("AMK-2026-0001"), **auth(key)).json()
    assert state["cad_number"] == "AMK-2026-0001"
    assert state["state"] == "pending_dispatch"
    assert state["counts"]["alerted"] == 0
    assert state["counts"]["accepted"] == 0
    assert state["responders"] == []
    assert state["location"] == {"lat": 56.1567, "lon": 10.2108}


def test_the_console_timeline_tells_cad_from_console(api, cad, client):
    _system, key = cad
    api.post(CREATE_URL, create_body(), format="json", **auth(key))
    incident = Incident.objects.get()
    dispatcher = DispatcherFactory(first_name="Mette", last_name="Dahl")
    client.force_login(dispatcher)
    client.post(reverse("amk:incident_note", args=[incident.pk]), {"text": "Fra konsollen"})

    board = client.get(reverse("amk:incident_board", args=[incident.pk])).json()

    lines = {line["message"]: line for line in board["events"]}
    created = next(line for m, line in lines.items() if m.startswith("Hændelse oprettet"))
    assert (created["actor"], created["origin_label"]) == ("Region Midt CAD", "via CAD")
    note = lines["Fra konsollen"]
    assert (note["actor"], note["origin_label"]) == ("Mette Dahl", "via konsol")
    page = client.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()
    assert "via CAD" in page


def test_console_incidents_are_no_cad_incidents(api, cad):
    _system, key = cad
    IncidentFactory()
    assert not CadIncident.objects.exists()
    assert api.get(incident_url("1"), **auth(key)).status_code == 404


def test_the_state_names_each_responders_role_and_arrival(api, cad):
    from alerts.models import Alert
    from tests.factories import AlertFactory

    _system, key = cad
    api.post(CREATE_URL, create_body(), format="json", **auth(key))
    incident = Incident.objects.get()
    soon = timezone.now() + timezone.timedelta(minutes=3)
    AlertFactory(
        incident=incident,
        state=Alert.State.ACCEPTED,
        role="cpr",
        distance_m=300,
        arrival_estimated_at=soon,
        answered_at=timezone.now(),
    )
    AlertFactory(incident=incident, state=Alert.State.DECLINED)

    state = api.get(incident_url("AMK-2026-0001"), **auth(key)).json()

    assert (state["counts"]["alerted"], state["counts"]["accepted"]) == (2, 1)
    assert state["counts"]["declined"] == 1
    [responder] = state["responders"]
    assert (responder["role"], responder["state"], responder["distance_m"]) == (
        "cpr",
        "accepted",
        300,
    )
    assert responder["arrival_in_min"] == 3
    assert "phone" not in responder
    assert "name" not in responder


def test_the_rate_is_per_key(api, cad, settings):
    system, key = cad
    settings.CAD_API_THROTTLE_RATE = "2/minute"
    from amk.cad.services.keys import api_key_issue

    _second, other_key = api_key_issue(system=system, name="reserve")
    codes = [api.get(incident_url("X1"), **auth(key)).status_code for _ in range(3)]
    assert codes == [404, 404, 429]
    assert api.get(incident_url("X1"), **auth(other_key)).status_code == 404


def test_the_admin_issues_a_key_once_and_keeps_only_its_hash(cad, client):
    from django.contrib.messages import get_messages

    from amk.cad.models import CadSystem, key_hash
    from tests.factories import UserFactory

    system, _key = cad
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:cad_cadapikey_add"), {"system": system.pk, "name": "reserve"}
    )
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    [message] = [m for m in messages if "vises ikke igen" in m]
    raw = next(word for word in message.split() if word.startswith("hja_")).rstrip(".")
    stored = CadApiKey.objects.get(name="reserve")
    assert stored.key_hash == key_hash(raw)
    assert raw not in str(CadApiKey.objects.filter(pk=stored.pk).values().get())
    assert APIClient().get(incident_url("X1"), **auth(raw)).status_code == 404
    listing = client.get(reverse("admin:cad_cadapikey_changelist")).content.decode()
    assert "sidst brugt" in listing.lower()
    # A system added in the admin gets its service user and signing secret.
    response = client.post(
        reverse("admin:cad_cadsystem_add"),
        {
            "name": "Beredskab CAD",
            "region": system.region_id,
            "is_active": "on",
            "callback_url": "",
        },
    )
    assert response.status_code == 302
    added = CadSystem.objects.get(name="Beredskab CAD")
    assert added.user.first_name == "Beredskab CAD"
    assert not added.user.has_usable_password()
    assert len(added.callback_secret) > 30
    for name in ("cadsystem", "cadapikey", "cadincident", "cadcallback"):
        assert client.get(reverse(f"admin:cad_{name}_changelist")).status_code == 200


def test_a_cad_of_another_dispatch_centre_creates_nothing_in_this_region(api):
    from amk.cad.services.keys import api_key_issue, cad_system_create
    from amk.models.territory import Region

    other_region = Region.objects.exclude(pk="1082").first()
    system = cad_system_create(name="AMK Syd CAD", region=other_region)
    _key, raw = api_key_issue(system=system, name="k")

    response = api.post(CREATE_URL, create_body(), format="json", **auth(raw))

    assert response.status_code == 400
    assert "location" in response.json()
    assert not Incident.objects.exists()


def test_the_call_time_and_the_ambulance_arrival_reach_the_statistics(api, cad):
    _system, key = cad
    called = timezone.now() - dt.timedelta(seconds=90)
    created = api.post(
        CREATE_URL, create_body(called_at=called.isoformat()), format="json", **auth(key)
    )
    assert created.status_code == 201, created.content
    incident = Incident.objects.get()
    assert incident.called_at == called
    close_url = incident_url("AMK-2026-0001", "close")

    future = (timezone.now() + dt.timedelta(minutes=10)).isoformat()
    refused = api.post(close_url, {"ems_arrived_at": future}, format="json", **auth(key))
    assert refused.status_code == 400
    assert "ems_arrived_at" in refused.json()
    assert Incident.objects.get().state != Incident.State.CLOSED  # nothing written

    arrived = timezone.now()
    closed = api.post(
        close_url, {"ems_arrived_at": arrived.isoformat()}, format="json", **auth(key)
    )
    assert closed.status_code == 200
    incident.refresh_from_db()
    assert (incident.state, incident.ems_arrived_at) == (Incident.State.CLOSED, arrived)


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(dt.timedelta(minutes=5), "fremtiden"), (-dt.timedelta(hours=25), "24 timer")],
)
def test_an_implausible_call_time_is_400(api, cad, offset, reason):
    _system, key = cad
    body = create_body(called_at=(timezone.now() + offset).isoformat())
    response = api.post(CREATE_URL, body, format="json", **auth(key))
    assert response.status_code == 400
    assert reason in response.json()["called_at"][0]
    assert not Incident.objects.exists()
