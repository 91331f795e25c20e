"""The board's stand-down of one responder (amk.console.views.alert_stand_down): a POST for
dispatchers only, CSRF-protected, on an alert of that incident."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from alerts.models import Alert, AlertDelivery
from amk.access import DISPATCHERS_GROUP
from amk.models import Incident, IncidentEvent
from tests.factories import AlertFactory, IncidentFactory, UserFactory, VolunteerFactory

pytestmark = pytest.mark.usefixtures("reference_geography")


@pytest.fixture
def dispatcher(db):
    user = UserFactory(username="disponent", first_name="Dorte", last_name="Hansen")
    user.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    return user


@pytest.fixture
def responder(db):
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    return AlertFactory(
        incident=incident,
        state=Alert.State.EN_ROUTE,
        role="cpr",
        volunteer__user__first_name="Mette",
    )


def _url(alert, incident_id=None) -> str:
    return reverse("amk:alert_stand_down", args=[incident_id or alert.incident_id, alert.pk])


def test_the_dispatcher_stands_a_responder_down_from_the_board(client, dispatcher, responder):
    client.force_login(dispatcher)
    page = client.get(reverse("amk:incident_detail", args=[responder.incident_id]))
    html = page.content.decode()
    assert _url(responder) in html
    assert "Afmeld Mette?" in html  # the confirmation names them

    response = client.post(_url(responder), follow=True)

    responder.refresh_from_db()
    assert (responder.state, responder.role) == (Alert.State.CANCELLED, "")
    assert responder.deliveries.filter(kind=AlertDelivery.Kind.STAND_DOWN).exists()
    event = IncidentEvent.objects.get(alert=responder)
    assert event.actor == dispatcher
    assert [str(m) for m in response.context["messages"]] == [
        "Den frivillige er afmeldt og får besked."
    ]
    board = client.get(reverse("amk:incident_board", args=[responder.incident_id])).json()
    assert board["counts"]["accepted"] == 0
    assert board["events"][0]["actor"] == "Dorte Hansen"
    assert board["events"][0]["message"] == f"Frivillig #{responder.volunteer_id}: Afmeldt"

    again = client.post(_url(responder), follow=True)
    (message,) = again.context["messages"]
    assert message.level_tag == "error"
    assert "Kun en frivillig, der er på vej" in str(message)


def test_stand_down_needs_a_dispatcher(client, responder):
    url = _url(responder)
    response = client.post(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    client.force_login(VolunteerFactory().user)
    assert client.post(url).status_code == 403
    responder.refresh_from_db()
    assert responder.state == Alert.State.EN_ROUTE


def test_stand_down_is_a_csrf_protected_post(dispatcher, responder):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dispatcher)
    assert client.get(_url(responder)).status_code == 405
    assert client.post(_url(responder)).status_code == 403
    responder.refresh_from_db()
    assert responder.state == Alert.State.EN_ROUTE


def test_stand_down_of_an_alert_of_another_incident_is_not_found(client, dispatcher, responder):
    client.force_login(dispatcher)
    other = IncidentFactory()
    assert client.post(_url(responder, incident_id=other.pk)).status_code == 404
    responder.refresh_from_db()
    assert responder.state == Alert.State.EN_ROUTE


@pytest.mark.parametrize(
    ("state", "excluded", "offered"),
    [
        (Incident.State.PENDING_DISPATCH, False, False),
        (Incident.State.DISPATCHING, False, True),
        # Target reached, then someone stood down: the dispatcher can recruit again.
        (Incident.State.ACTIVE, False, True),
        (Incident.State.ACTIVE, True, False),
    ],
)
def test_the_next_wave_is_offered_whenever_one_can_be_sent(
    client, dispatcher, state, excluded, offered
):
    incident = IncidentFactory(state=state, exclusion_reasons=["trauma"] if excluded else [])
    client.force_login(dispatcher)
    html = client.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()
    form = html[html.index('id="escalate-form"') :].split(">", 1)[0]
    assert ("hidden" not in form) is offered
    board = client.get(reverse("amk:incident_board", args=[incident.pk])).json()
    assert board["incident"]["can_request_wave"] is offered
