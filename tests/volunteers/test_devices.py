"""Push tokens held by more than one account (#15.5): registering a token another account holds
gives the caller a device of its own and leaves the other account's device, and its alerts, as
they were, until that account's app registers again. A push to such a token says nothing
personal. Through the real API and the real send path (outbox push backend)."""

import pytest
from rest_framework.test import APIClient

from alerts.models import Alert, AlertDelivery, OutboxMessage
from amk.models import Incident
from tests.delivery import delivery_send
from tests.factories import AlertDeliveryFactory, AlertFactory, IncidentFactory, VolunteerFactory
from volunteers.models import Device, Volunteer
from volunteers.services.accounts import auth_token_create

pytestmark = pytest.mark.django_db

TOKEN = "fcm-install-of-annas-phone"


def client_for(volunteer: Volunteer) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {auth_token_create(user=volunteer.user)}")
    return client


def register(client: APIClient, token: str) -> dict:
    response = client.post(
        "/api/v1/devices/", {"push_token": token, "platform": "android"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def anna():
    volunteer = VolunteerFactory()
    return volunteer, client_for(volunteer)


@pytest.fixture
def incident(reference_geography):
    return IncidentFactory(
        state=Incident.State.DISPATCHING, dispatch_wave=1, dispatch_radius_m=5000
    )


def push_alert(incident, volunteer) -> Alert:
    alert = AlertFactory(incident=incident, volunteer=volunteer, distance_m=843)
    AlertDeliveryFactory(alert=alert, channel=AlertDelivery.Channel.PUSH)
    delivery_send(
        delivery_id=AlertDelivery.objects.get(alert=alert, channel=AlertDelivery.Channel.PUSH).pk
    )
    return alert


def pushes_for(alert) -> list[OutboxMessage]:
    return [m for m in OutboxMessage.objects.filter(channel="push") if _alert_id(m) == alert.pk]


def _alert_id(message) -> int:
    return int(message.data["data"]["alert_id"])


def test_a_token_held_by_another_account_creates_a_new_device(anna):
    anna_volunteer, anna_app = anna
    annas = register(anna_app, TOKEN)
    before = Device.objects.get(pk=annas["id"])

    mallory = VolunteerFactory()
    mallorys = register(client_for(mallory), TOKEN)

    assert mallorys["id"] != annas["id"]
    assert Device.objects.get(pk=mallorys["id"]).volunteer == mallory
    after = Device.objects.get(pk=annas["id"])
    assert (after.volunteer, after.is_active, after.auth_token_id, after.last_seen_at) == (
        anna_volunteer,
        True,
        before.auth_token_id,
        before.last_seen_at,
    )
    assert [d["push_token"] for d in anna_app.get("/api/v1/devices/").json()] == [TOKEN]


def test_the_other_accounts_alerts_still_go_to_its_device(anna, incident):
    anna_volunteer, anna_app = anna
    register(anna_app, TOKEN)
    register(client_for(VolunteerFactory()), TOKEN)

    alert = push_alert(incident, anna_volunteer)

    [message] = pushes_for(alert)
    assert message.recipient == TOKEN
    assert AlertDelivery.objects.get(alert=alert).state == AlertDelivery.State.SENT


def test_a_push_to_a_shared_token_says_nothing_personal(anna, incident):
    anna_volunteer, anna_app = anna
    register(anna_app, TOKEN)
    alone = push_alert(incident, anna_volunteer)
    register(client_for(VolunteerFactory()), TOKEN)
    shared = push_alert(IncidentFactory(state=Incident.State.DISPATCHING), anna_volunteer)

    [plain] = pushes_for(alone)
    [neutral] = pushes_for(shared)
    assert plain.data["title"] != "Hjertealarm"
    assert (neutral.data["title"], neutral.body) == (
        "Hjertealarm",
        "Ny besked fra Hjertealarm. Åbn appen.",
    )
    assert neutral.data["data"]["alert_id"] == str(shared.pk)  # the app asks with its session


def test_when_the_other_account_registers_again_elsewhere_its_old_device_retires(anna, incident):
    anna_volunteer, anna_app = anna
    old = register(anna_app, TOKEN)
    bo = VolunteerFactory()
    bos = register(client_for(bo), TOKEN)  # Anna's old phone, handed to Bo

    new = register(anna_app, "fcm-install-of-annas-new-phone")

    assert Device.objects.get(pk=old["id"]).is_active is False
    assert Device.objects.get(pk=new["id"]).is_active is True
    assert Device.objects.get(pk=bos["id"]).is_active is True
    alert = push_alert(incident, anna_volunteer)
    [message] = pushes_for(alert)
    assert message.recipient == "fcm-install-of-annas-new-phone"


def test_registering_the_same_token_again_keeps_it(anna):
    _anna_volunteer, anna_app = anna
    first = register(anna_app, TOKEN)
    register(client_for(VolunteerFactory()), TOKEN)

    again = register(anna_app, TOKEN)

    assert again["id"] == first["id"]
    assert Device.objects.get(pk=first["id"]).is_active is True
    assert Device.objects.filter(push_token=TOKEN, is_active=True).count() == 2


def test_replacing_a_token_with_one_another_account_holds_leaves_that_device(anna):
    anna_volunteer, anna_app = anna
    annas = register(anna_app, TOKEN)
    bo = VolunteerFactory()
    bo_app = client_for(bo)
    bos = register(bo_app, "fcm-bo-before-rotation")

    response = bo_app.put(f"/api/v1/devices/{bos['id']}/", {"push_token": TOKEN}, format="json")

    assert response.status_code == 200
    assert Device.objects.get(pk=annas["id"]).volunteer == anna_volunteer
    assert Device.objects.get(pk=annas["id"]).is_active is True
    assert Device.objects.get(pk=bos["id"]).push_token == TOKEN


def test_a_token_fcm_calls_unregistered_silences_every_account_holding_it(
    anna, incident, fcm_backend_settings, fake_fcm
):
    anna_volunteer, anna_app = anna
    annas = register(anna_app, TOKEN)
    bos = register(client_for(VolunteerFactory()), TOKEN)
    fake_fcm.unregistered_tokens.add(TOKEN)

    alert = push_alert(incident, anna_volunteer)

    push = AlertDelivery.objects.get(alert=alert, channel=AlertDelivery.Channel.PUSH)
    assert push.state == AlertDelivery.State.FAILED
    assert not Device.objects.filter(pk__in=[annas["id"], bos["id"]], is_active=True).exists()
