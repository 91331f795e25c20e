"""Least privilege in the admin (#15.5): a staff member who may only view volunteers, devices,
AEDs and messages sees phone numbers, live positions, push tokens and cabinet codes masked, in
lists, change pages and searches; each permission shows its own values in full. Deleting a device
in the admin revokes the app session that registered it, as the app's own removal does."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from knox.models import AuthToken

from alerts.models import AlertDelivery, InboundMessage, OutboxMessage
from defibrillators.models import Defibrillator
from tests.factories import (
    AARHUS_C,
    AlertDeliveryFactory,
    AlertFactory,
    DefibrillatorFactory,
    DeviceFactory,
    UserFactory,
    VolunteerFactory,
)
from volunteers.models import Debrief, Device, Volunteer

pytestmark = pytest.mark.django_db

PHONE = "+4571234598"
TOKEN = "fcmTOKENsecret-0123456789abcdefghijklmnopqrstuvwxyz"
CODE = "Kode-8642"
AED_CONTACT = "+4522334455"
# The position as the map widget would write it (GeoJSON coordinates).
LON, LAT = f"{AARHUS_C[0]}", f"{AARHUS_C[1]}"

VIEW = [
    "volunteers.view_volunteer",
    "volunteers.view_device",
    "volunteers.view_debrief",
    "defibrillators.view_defibrillator",
    "alerts.view_outboxmessage",
    "alerts.view_inboundmessage",
    "alerts.view_alertdelivery",
]
SECRETS = [
    "volunteers.view_phone_number",
    "volunteers.view_live_position",
    "volunteers.view_push_token",
    "defibrillators.view_cabinet_code",
    "defibrillators.view_contact_phone",
]


def _staff(client, perms: list[str]):
    user = UserFactory(is_staff=True)
    for name in perms:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client.force_login(user)
    return client


@pytest.fixture
def records(reference_geography):
    volunteer = VolunteerFactory(phone=PHONE)
    device = DeviceFactory(volunteer=volunteer, push_token=TOKEN)
    aed = DefibrillatorFactory(
        cabinet_code=CODE, source_tags={"access:code": CODE}, contact_phone=AED_CONTACT
    )
    alert = AlertFactory(volunteer=volunteer)
    AlertDeliveryFactory(
        alert=alert, state="failed", last_error=f"21211 Invalid 'To' Phone Number: {PHONE}"
    )
    Debrief.objects.create(
        volunteer=volunteer,
        alert=alert,
        outcome=Debrief.Outcome.HARD,
        wants_call=True,
    )
    OutboxMessage.objects.create(channel="sms", recipient=PHONE, body="t", provider_message_id="o1")
    OutboxMessage.objects.create(
        channel="push", recipient=TOKEN, body="t", provider_message_id="o2"
    )
    InboundMessage.objects.create(message_sid="SM1", from_phone=PHONE, body="JA")
    return {"volunteer": volunteer, "device": device, "aed": aed}


def _pages(records) -> dict[str, str]:
    def url(model, view, *args):
        meta = model._meta
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)

    outbox = OutboxMessage.objects.order_by("pk")
    return {
        "volunteers": url(Volunteer, "changelist"),
        "volunteer": url(Volunteer, "change", records["volunteer"].pk),
        "devices": url(Device, "changelist"),
        "device": url(Device, "change", records["device"].pk),
        "aed": url(Defibrillator, "change", records["aed"].pk),
        "debriefs": url(Debrief, "changelist"),
        "outbox": url(OutboxMessage, "changelist"),
        "outbox_sms": url(OutboxMessage, "change", outbox[0].pk),
        "outbox_push": url(OutboxMessage, "change", outbox[1].pk),
        "inbound": url(InboundMessage, "changelist"),
        "inbound_one": url(InboundMessage, "change", InboundMessage.objects.get().pk),
        "deliveries": url(AlertDelivery, "changelist"),
        "delivery": url(AlertDelivery, "change", AlertDelivery.objects.get().pk),
    }


def _html(client, path, **params) -> str:
    response = client.get(path, params)
    assert response.status_code == 200, path
    return response.content.decode()


def test_view_permission_alone_shows_masked_values(client, records):
    client = _staff(client, VIEW)
    pages = {name: _html(client, path) for name, path in _pages(records).items()}

    for name in [
        "volunteers",
        "volunteer",
        "debriefs",
        "outbox",
        "outbox_sms",
        "inbound",
        "deliveries",
        "delivery",
    ]:
        assert PHONE not in pages[name], name
        assert "71234598" not in pages[name], name
        assert "+45 •• •• •• 98" in pages[name], name
    assert "+45 •• •• •• 98" in pages["inbound_one"]
    for name in ["volunteer", "devices", "device", "outbox", "outbox_push"]:
        assert TOKEN not in pages[name], name
        assert TOKEN[:12] not in pages[name], name
        assert "fcmTOK…" in pages[name], name
    assert LON not in pages["volunteer"]
    assert LAT not in pages["volunteer"]
    assert "skjult" in pages["volunteer"]  # the position, in Danish
    assert CODE not in pages["aed"]
    assert "••••" in pages["aed"]
    assert AED_CONTACT not in pages["aed"]
    assert "+45 •• •• •• 55" in pages["aed"]


def test_searching_by_a_hidden_value_finds_nothing(client, records):
    client = _staff(client, VIEW)
    pages = _pages(records)
    device_link = pages["device"]
    volunteer_link = pages["volunteer"]
    assert volunteer_link not in _html(client, pages["volunteers"], q="71 23 45 98")
    assert device_link not in _html(client, pages["devices"], q=TOKEN)
    assert device_link not in _html(client, pages["devices"], q=PHONE)
    assert pages["outbox_sms"] not in _html(client, pages["outbox"], q=PHONE)
    assert pages["inbound_one"] not in _html(client, pages["inbound"], q=PHONE)
    assert pages["inbound_one"] in _html(client, pages["inbound"])


def test_each_permission_shows_its_values(client, records):
    client = _staff(client, VIEW + SECRETS)
    urls = _pages(records)
    pages = {name: _html(client, path) for name, path in urls.items()}

    for name in ["volunteers", "volunteer", "debriefs", "outbox_sms", "inbound", "deliveries"]:
        assert PHONE in pages[name], name
    for name in ["volunteer", "devices", "device", "outbox_push"]:
        assert TOKEN in pages[name], name
    assert LON in pages["volunteer"]
    assert LAT in pages["volunteer"]
    assert CODE in pages["aed"]
    assert AED_CONTACT in pages["aed"]
    # And the searches by value work again.
    assert urls["device"] in _html(client, urls["devices"], q=TOKEN)
    assert urls["volunteer"] in _html(client, urls["volunteers"], q="71 23 45 98")


def test_phone_permission_alone_leaves_tokens_and_positions_masked(client, records):
    client = _staff(client, [*VIEW, "volunteers.view_phone_number"])
    volunteer = _html(client, _pages(records)["volunteer"])
    assert PHONE in volunteer
    assert TOKEN not in volunteer
    assert "fcmTOK…" in volunteer
    assert LON not in volunteer


def test_change_permission_without_phone_permission_cannot_edit_the_number(client, records):
    client = _staff(client, [*VIEW, "volunteers.change_volunteer"])
    html = _html(client, _pages(records)["volunteer"])
    assert 'name="phone"' not in html
    assert PHONE not in html


def test_deleting_a_device_in_the_admin_revokes_its_session(client, records):
    volunteer = records["volunteer"]
    session, _key = AuthToken.objects.create(user=volunteer.user)
    device = DeviceFactory(volunteer=volunteer, auth_token=session)
    client = _staff(client, [*VIEW, "volunteers.delete_device"])
    path = reverse("admin:volunteers_device_delete", args=[device.pk])
    assert client.post(path, {"post": "yes"}).status_code == 302
    assert not Device.objects.filter(pk=device.pk).exists()
    assert not AuthToken.objects.filter(pk=session.pk).exists()


def test_the_bulk_delete_of_devices_revokes_each_session(client, records):
    volunteer = records["volunteer"]
    sessions = [AuthToken.objects.create(user=volunteer.user)[0] for _ in range(2)]
    devices = [DeviceFactory(volunteer=volunteer, auth_token=s) for s in sessions]
    client = _staff(client, [*VIEW, "volunteers.delete_device"])
    response = client.post(
        reverse("admin:volunteers_device_changelist"),
        {"action": "delete_selected", "_selected_action": [d.pk for d in devices], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AuthToken.objects.filter(pk__in=[s.pk for s in sessions]).exists()
    assert Device.objects.filter(pk=records["device"].pk).exists()


def test_a_volunteer_without_a_name_is_listed_by_number_not_phone(client, records):
    volunteer = records["volunteer"]
    volunteer.user.first_name = volunteer.user.last_name = ""
    volunteer.user.save()
    client = _staff(client, VIEW)
    html = _html(client, _pages(records)["devices"])
    assert PHONE not in html
    assert f"#{volunteer.pk}" in html


def test_the_add_form_asks_for_the_phone_number_even_without_the_permission(client, records):
    client = _staff(client, [*VIEW, "volunteers.add_volunteer"])
    html = _html(client, reverse("admin:volunteers_volunteer_add"))
    assert 'name="phone"' in html
