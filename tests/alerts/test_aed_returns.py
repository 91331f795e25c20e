"""An AED back in place, confirmed by its fetcher in the app (POST
/api/v1/alerts/{id}/aed-returned/), its owner or contact by SMS ("RETUR"), or an administrator:
it can then be sent for again. And the whole path through a real worker: the contact's SMS
arrives at the fake Twilio."""

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from alerts.models import AedUse, Alert, InboundMessage
from alerts.services import aed_uses
from alerts.services.aed_uses import aed_return_by_sms, aed_return_parse
from tests.alerts.aeds import accept, incident, new_incident, north, open_use, progress, responder
from tests.factories import DefibrillatorFactory, UserFactory, VolunteerFactory
from volunteers.services.accounts import auth_token_create

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")
__all__ = ["incident"]  # the fixture, used by name

CONTACT = "+4540112233"
RY = "Hjertestarter Ry Hallerne"


def client_for(volunteer) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {auth_token_create(user=volunteer.user)}")
    return client


@pytest.fixture
def fetched(incident):
    """An AED sent for, collected and brought to the patient."""
    aed = DefibrillatorFactory(
        location=north(500), name="Hjertestarter Ry Hallerne", contact_phone=CONTACT
    )
    alert = accept(responder(incident))
    progress(alert, "aed_collected")
    return alert, aed


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("RETUR", (True, None)),
        ("retur", (True, None)),
        ("  Retur.", (True, None)),
        ("RETUR 42", (True, 42)),
        ("retur #42 tak", (True, 42)),
        ("Tilbage", (True, None)),
        ("Returneret 7", (True, 7)),
        ("JA", (False, None)),
        ("Den er ikke retur endnu", (False, None)),
        ("RETURNERE", (False, None)),
        ("", (False, None)),
    ],
)
def test_the_return_keyword(body, expected):
    assert aed_return_parse(body) == expected


def test_the_fetcher_confirms_in_the_app(fetched, incident):
    alert, aed = fetched
    app = client_for(alert.volunteer)

    response = app.post(f"/api/v1/alerts/{alert.pk}/aed-returned/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["aed"], body["ending"]) == ("Hjertestarter Ry Hallerne", "returned")
    use = AedUse.objects.get(alert=alert)
    assert (use.ending, use.ended_via, use.ended_by_user) == ("returned", "app", None)
    assert open_use(aed) is None
    assert accept(responder(new_incident())).aed == aed  # can be sent for again
    # A second tap changes nothing.
    again = app.post(f"/api/v1/alerts/{alert.pk}/aed-returned/")
    assert again.status_code == 200
    assert again.json()["ended_at"] == body["ended_at"]


def test_only_the_fetcher_of_that_alert_and_only_with_an_aed(fetched, incident):
    alert, _ = fetched
    stranger = client_for(VolunteerFactory())
    assert stranger.post(f"/api/v1/alerts/{alert.pk}/aed-returned/").status_code == 404

    cpr = accept(responder(incident, 1100))  # the AED is taken: goes straight to the patient
    assert cpr.role == Alert.Role.CPR
    response = client_for(cpr.volunteer).post(f"/api/v1/alerts/{cpr.pk}/aed-returned/")
    assert response.status_code == 409
    assert response.json()["detail"]
    assert open_use(fetched[1]) is not None


def test_the_contact_replies_retur(fetched):
    alert, aed = fetched

    reply = aed_return_by_sms(from_phone=CONTACT, body="Retur")

    assert "Ry Hallerne" in reply
    use = AedUse.objects.get(alert=alert)
    assert (use.ending, use.ended_via, use.ended_by_phone) == ("returned", "sms", CONTACT)
    assert open_use(aed) is None
    # Again: nothing of theirs is out any more.
    assert aed_return_by_sms(from_phone=CONTACT, body="RETUR") != reply


def test_a_stranger_or_another_message_is_not_a_return(fetched):
    _, aed = fetched
    assert aed_return_by_sms(from_phone=CONTACT, body="JA") is None  # not for us
    assert aed_return_by_sms(from_phone="+4599887766", body="RETUR")  # told: none of theirs
    assert open_use(aed) is not None


def test_the_owners_number_as_told_is_matched(incident):
    aed = DefibrillatorFactory(location=north(500), owner_phone="86 20 54 00")
    accept(responder(incident))

    assert aed_return_by_sms(from_phone="+4586205400", body="retur")
    assert open_use(aed) is None


def test_several_out_retur_asks_which_and_retur_ref_confirms_one(incident):
    first = DefibrillatorFactory(location=north(500), name="Hallen", contact_phone=CONTACT)
    second = DefibrillatorFactory(location=north(600), name="Skolen", contact_phone=CONTACT)
    accept(responder(incident))
    accept(responder(new_incident()))  # Hallen is in use: Skolen
    use_first, use_second = open_use(first), open_use(second)

    question = aed_return_by_sms(from_phone=CONTACT, body="RETUR")

    assert f"{use_first.pk} (Hallen)" in question
    assert f"{use_second.pk} (Skolen)" in question
    assert open_use(first) is not None
    assert open_use(second) is not None
    assert "Skolen" in aed_return_by_sms(from_phone=CONTACT, body=f"RETUR {use_second.pk}")
    assert open_use(second) is None
    assert open_use(first) is not None
    assert "Hallen" in aed_return_by_sms(from_phone=CONTACT, body="RETUR")  # the one left


def test_an_administrator_confirms_from_the_aed_list(fetched, client):
    _, aed = fetched
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = reverse("admin:defibrillators_defibrillator_changelist")
    assert "in_use=yes" in client.get(url).content.decode()
    listed = client.get(url, {"in_use": "yes"}).content.decode()
    assert "Ry Hallerne" in listed

    response = client.post(
        url, {"action": "confirm_returned", "_selected_action": [aed.pk]}, follow=True
    )

    assert response.status_code == 200
    use = AedUse.objects.get(aed=aed)
    assert (use.ending, use.ended_via, use.ended_by_user) == ("returned", "admin", admin)
    assert "Ry Hallerne" not in client.get(url, {"in_use": "yes"}).content.decode()


def test_a_staff_member_without_change_rights_cannot_confirm(fetched, client):
    from django.contrib.auth.models import Permission

    _, aed = fetched
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_defibrillator"))
    client.force_login(viewer)
    url = reverse("admin:defibrillators_defibrillator_changelist")

    client.post(url, {"action": "confirm_returned", "_selected_action": [aed.pk]})

    assert open_use(aed) is not None


def test_confirming_twice_keeps_the_first_confirmation(fetched):
    alert, _ = fetched
    use = AedUse.objects.get(alert=alert)
    first = aed_uses.aed_return_confirm(use_id=use.pk, via="sms", phone=CONTACT)
    second = aed_uses.aed_return_confirm(use_id=use.pk, via="admin", user=UserFactory())
    assert (second.ended_at, second.ended_via) == (first.ended_at, "sms")


@pytest.mark.django_db(transaction=True)
def test_through_a_real_worker_the_contact_gets_the_sms(
    dispatch_worker, reference_geography, twilio_backend_settings, fake_twilio
):
    """The app's accept commits; the worker sends the contact's SMS to Twilio."""
    aed = DefibrillatorFactory(
        location=north(500), name="Hjertestarter Ry Hallerne", contact_phone=CONTACT
    )
    alert = responder(new_incident())

    response = client_for(alert.volunteer).post(f"/api/v1/alerts/{alert.pk}/accept/")

    assert response.json()["assignment"]["aed"]["name"] == aed.name
    [sms] = fake_twilio.wait_for_messages(1, timeout=20)
    assert sms.to == CONTACT
    assert "Ry Hallerne" in sms.body
    assert "RETUR" in sms.body


def test_the_contacts_retur_through_the_signed_webhook_confirms_and_answers(fetched, client):
    from tests.alerts.test_inbound import TOKEN, reply, sms_in

    _alert, aed = fetched
    with override_settings(TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL=""):
        response = sms_in(client, CONTACT, "retur", sid="SM" + "7" * 32)
        replay = sms_in(client, CONTACT, "retur", sid="SM" + "7" * 32)

    assert "Ry Hallerne" in reply(response)
    assert reply(replay) == reply(response)  # recorded once by its MessageSid
    assert open_use(aed) is None
    assert InboundMessage.objects.get(message_sid="SM" + "7" * 32).outcome == "aed_return"
