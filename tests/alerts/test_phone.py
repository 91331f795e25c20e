"""The demo's simulated phone (alerts.views): outbox messages per volunteer, JA/NEJ buttons."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from alerts.models import Alert, AlertDelivery, InboundMessage, OutboxMessage
from alerts.services import waves
from amk.access import DISPATCHERS_GROUP
from amk.models import Incident
from tests.delivery import delivery_send
from tests.factories import (
    DefibrillatorFactory,
    DeviceFactory,
    IncidentFactory,
    UserFactory,
    VolunteerFactory,
    responder_on_scene,
)

pytestmark = pytest.mark.usefixtures("reference_geography")


@pytest.fixture
def demo(settings):
    settings.APP_MODE = "demo"
    return settings


@pytest.fixture
def dispatcher(db):
    user = UserFactory(username="disponent")
    user.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    return user


def _send_all() -> None:
    for delivery_id in AlertDelivery.objects.filter(state=AlertDelivery.State.PENDING).values_list(
        "pk", flat=True
    ):
        delivery_send(delivery_id=delivery_id)


@pytest.fixture
def alerted(django_capture_on_commit_callbacks):
    """An incident in Aarhus, dispatched: one SMS-only volunteer and one with the app."""
    sms_only = VolunteerFactory(user__first_name="Søren", phone="+4522334455")
    with_app = DeviceFactory(volunteer__user__first_name="Anna").volunteer
    incident = IncidentFactory(address="Store Torv 1, 8000 Aarhus C")
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=incident.pk)
        _send_all()
    return incident, sms_only, with_app


def test_not_found_outside_demo_mode(client, settings, dispatcher):
    settings.APP_MODE = "production"
    client.force_login(dispatcher)
    volunteer = VolunteerFactory()
    assert client.get(reverse("alerts:phone_list")).status_code == 404
    assert client.get(reverse("alerts:phone_detail", args=[volunteer.pk])).status_code == 404
    settings.APP_MODE = "test"
    assert client.get(reverse("alerts:phone_list")).status_code == 404


def test_access_in_demo_mode(client, demo, dispatcher):
    volunteer = VolunteerFactory()
    urls = [reverse("alerts:phone_list"), reverse("alerts:phone_detail", args=[volunteer.pk])]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    client.force_login(volunteer.user)
    assert all(client.get(url).status_code == 403 for url in urls)
    client.force_login(dispatcher)
    assert all(client.get(url).status_code == 200 for url in urls)
    client.force_login(UserFactory(username="root", is_superuser=True))
    assert all(client.get(url).status_code == 200 for url in urls)


def test_list_shows_volunteers_with_messages(client, demo, dispatcher, alerted):
    _incident, sms_only, with_app = alerted
    bystander = VolunteerFactory(user__first_name="Ubrugt", location=None, location_updated_at=None)
    assert OutboxMessage.objects.filter(recipient=str(sms_only.phone)).exists()
    client.force_login(dispatcher)
    html = client.get(reverse("alerts:phone_list")).content.decode()
    assert reverse("alerts:phone_detail", args=[sms_only.pk]) in html
    assert reverse("alerts:phone_detail", args=[with_app.pk]) in html
    assert reverse("alerts:phone_detail", args=[bystander.pk]) not in html


def test_phone_shows_push_and_sms_messages(client, demo, dispatcher, alerted):
    _incident, sms_only, with_app = alerted
    client.force_login(dispatcher)
    sms_page = client.get(reverse("alerts:phone_detail", args=[sms_only.pk])).content.decode()
    assert "JA" in sms_page
    assert "NEJ" in sms_page
    assert OutboxMessage.objects.get(recipient=str(sms_only.phone)).body in sms_page
    push = OutboxMessage.objects.get(channel="push")
    app_page = client.get(reverse("alerts:phone_detail", args=[with_app.pk]))
    assert push.body in app_page.content.decode()
    fragment = client.get(
        reverse("alerts:phone_detail", args=[with_app.pk]), {"fragment": "screen"}
    )
    assert b"<html" not in fragment.content
    assert push.body in fragment.content.decode()


def test_accept_assigns_a_role_and_sends_details(
    client, demo, dispatcher, alerted, django_capture_on_commit_callbacks
):
    incident, sms_only, _with_app = alerted
    aed = DefibrillatorFactory(name="Hjertestarter Rådhuset")
    alert = Alert.objects.get(incident=incident, volunteer=sms_only)
    responder_on_scene(incident)
    client.force_login(dispatcher)
    url = reverse("alerts:phone_answer", args=[sms_only.pk, alert.pk])
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url, {"answer": "accept"}, follow=True)
        _send_all()
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACCEPTED
    assert (alert.role, alert.aed) == (Alert.Role.AED, aed)
    html = response.content.decode()
    assert "Hjertestarter Rådhuset" in html
    assert incident.address in html
    details = OutboxMessage.objects.filter(recipient=str(sms_only.phone)).order_by("-created_at")[0]
    assert incident.address in details.body
    page = client.get(reverse("alerts:phone_detail", args=[sms_only.pk])).content.decode()
    assert details.body in page


def test_decline_and_errors_are_messages(client, demo, dispatcher, alerted):
    incident, sms_only, with_app = alerted
    alert = Alert.objects.get(incident=incident, volunteer=with_app)
    client.force_login(dispatcher)
    url = reverse("alerts:phone_answer", args=[with_app.pk, alert.pk])
    response = client.post(url, {"answer": "decline"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["info"]
    alert.refresh_from_db()
    assert alert.state == Alert.State.DECLINED
    response = client.post(url, {"answer": "accept"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    # Someone else's alert is not found for this volunteer.
    other = Alert.objects.get(incident=incident, volunteer=sms_only)
    wrong = reverse("alerts:phone_answer", args=[with_app.pk, other.pk])
    response = client.post(wrong, {"answer": "accept"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    other.refresh_from_db()
    assert other.state != Alert.State.ACCEPTED
    assert Incident.objects.get(pk=incident.pk).is_open


def test_the_buttons_and_the_text_field_get_the_answers_the_sms_service_gives(
    client, demo, dispatcher, alerted
):
    incident, sms_only, _with_app = alerted
    alert = Alert.objects.get(incident=incident, volunteer=sms_only)
    client.force_login(dispatcher)
    sms_url = reverse("alerts:phone_sms", args=[sms_only.pk])

    response = client.post(sms_url, {"body": "kommer"}, follow=True)

    [shown] = response.context["messages"]
    assert shown.level_tag == "error"
    assert str(shown).startswith("Vi forstod ikke dit svar.")
    page = client.get(reverse("alerts:phone_detail", args=[sms_only.pk])).content.decode()
    assert "kommer" in page  # what the volunteer sent …
    assert "Vi forstod ikke dit svar." in page  # … and the answer, on the phone
    assert InboundMessage.objects.get().outcome == InboundMessage.Outcome.NOT_UNDERSTOOD

    answer = reverse("alerts:phone_answer", args=[sms_only.pk, alert.pk])
    response = client.post(answer, {"answer": "decline"}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        f"Tak for svaret. Du er meldt fra alarm {alert.pk}."
    ]
    sent = InboundMessage.objects.latest("pk")
    assert (sent.body, sent.outcome, sent.alert) == (
        f"NEJ {alert.pk}",
        InboundMessage.Outcome.DECLINED,
        alert,
    )
    assert Alert.objects.get(pk=alert.pk).state == Alert.State.DECLINED


def test_an_accepted_alert_can_be_withdrawn_from_the_phone(client, demo, dispatcher, alerted):
    incident, sms_only, _with_app = alerted
    alert = Alert.objects.get(incident=incident, volunteer=sms_only)
    client.force_login(dispatcher)
    url = reverse("alerts:phone_answer", args=[sms_only.pk, alert.pk])
    client.post(url, {"answer": "accept"})
    page = client.get(reverse("alerts:phone_detail", args=[sms_only.pk])).content.decode()
    assert "Meld fra (NEJ)" in page

    response = client.post(url, {"answer": "decline"}, follow=True)

    [shown] = response.context["messages"]
    assert shown.level_tag == "info"
    assert str(shown).startswith("Tak for besked.")
    assert Alert.objects.get(pk=alert.pk).state == Alert.State.RELEASED
