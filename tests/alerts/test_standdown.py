"""The dispatcher stands one responder down (alerts.services.standdown), against real PostGIS:
the alert is called off, its AED freed, a stand-down message sent through the delivery engine
(recorded by the outbox backends) and the stand-down written on the timeline."""

import pytest

from alerts.messages import message_texts
from alerts.models import Alert, AlertDelivery, OutboxMessage
from alerts.services import answers
from alerts.services.standdown import alert_stand_down
from amk.models import Incident, IncidentEvent
from amk.services.incidents import incident_close
from config.exceptions import ApplicationError
from tests.delivery import delivery_send
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    DefibrillatorFactory,
    IncidentFactory,
    UserFactory,
)

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")

S, Channel, Kind = Alert.State, AlertDelivery.Channel, AlertDelivery.Kind

# GSM 03.38's basic alphabet (one 7-bit septet each); æøåÆØÅ are in it.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


@pytest.fixture
def incident(db):
    return IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)


@pytest.fixture
def dispatcher(db):
    return UserFactory(first_name="Dorte", last_name="Hansen")


def _responder(incident, channel=Channel.PUSH, **fields) -> Alert:
    alert = AlertFactory(incident=incident, **{"state": S.EN_ROUTE, "role": "cpr", **fields})
    if channel:
        AlertDeliveryFactory(alert=alert, channel=channel, state=AlertDelivery.State.DELIVERED)
    return alert


def test_standing_a_responder_down_frees_the_aed_tells_them_and_records_who(
    incident, dispatcher, django_capture_on_commit_callbacks
):
    aed = DefibrillatorFactory(name="Hjertestarter Domkirken")
    alert = _responder(incident, role="aed", aed=aed, channel=Channel.SMS)
    other = _responder(incident)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        alert_stand_down(alert_id=alert.pk, actor=dispatcher)

    alert.refresh_from_db()
    assert (alert.state, alert.role, alert.aed_id) == (S.CANCELLED, "", None)
    assert Alert.objects.get(pk=other.pk).state == S.EN_ROUTE  # only this one
    # The AED can be claimed by another responder of the incident now.
    Alert.objects.filter(pk=other.pk).update(role="aed", aed=aed)
    event = IncidentEvent.objects.get(incident=incident, alert=alert)
    assert (event.kind, event.actor) == ("alert_cancelled", dispatcher)
    stand_down = AlertDelivery.objects.get(alert=alert, kind=Kind.STAND_DOWN)
    assert stand_down.channel == Channel.SMS
    assert len(queued) == 1  # the send, once this commits

    delivery_send(delivery_id=stand_down.pk)
    sms = OutboxMessage.objects.get(recipient=str(alert.volunteer.phone))
    assert sms.body == (
        "Vagtcentralen har afmeldt dig: du skal ikke fortsætte. Tak for din hjælp. "
        f"(alarm {alert.pk})"
    )
    assert Incident.objects.get(pk=incident.pk).is_open  # the incident goes on


def test_a_responder_whose_channel_is_unknown_is_told_by_sms(incident, dispatcher):
    alert = _responder(incident, channel=None)
    alert_stand_down(alert_id=alert.pk, actor=dispatcher)
    assert set(alert.deliveries.values_list("channel", "kind")) == {(Channel.SMS, Kind.STAND_DOWN)}


def test_the_stand_down_text_fits_one_gsm7_segment_with_a_long_reference(incident):
    alert = _responder(incident, channel=Channel.SMS)
    Alert.objects.filter(pk=alert.pk).update(state=S.CANCELLED)
    delivery = AlertDeliveryFactory(alert=alert, channel=Channel.SMS, kind=Kind.STAND_DOWN)
    delivery.alert.pk = 99999  # a five-digit reference
    _title, body = message_texts(delivery)
    assert set(body) <= GSM7, set(body) - GSM7
    assert len(body) <= 160, len(body)


@pytest.mark.parametrize("state", [S.SENT, S.DECLINED, S.RELEASED, S.CANCELLED])
def test_only_a_responder_can_be_stood_down(incident, dispatcher, state):
    alert = AlertFactory(incident=incident, state=state)
    with pytest.raises(ApplicationError) as error:
        alert_stand_down(alert_id=alert.pk, actor=dispatcher)
    assert error.value.code == "not_responding"
    assert not alert.deliveries.filter(kind=Kind.STAND_DOWN).exists()
    assert not IncidentEvent.objects.filter(alert=alert).exists()


def test_nobody_is_stood_down_from_an_ended_incident(incident, dispatcher):
    alert = _responder(incident)
    incident_close(incident_id=incident.pk, actor=dispatcher)
    with pytest.raises(ApplicationError) as error:
        alert_stand_down(alert_id=alert.pk, actor=dispatcher)
    assert error.value.code == "ended"
    with pytest.raises(ApplicationError) as error:
        alert_stand_down(alert_id=999_999, actor=dispatcher)
    assert error.value.code == "not_found"


def test_a_stood_down_responder_can_accept_nothing_more_here(incident, dispatcher):
    alert = _responder(incident)
    alert_stand_down(alert_id=alert.pk, actor=dispatcher)
    with pytest.raises(ApplicationError):
        answers.alert_progress(alert_id=alert.pk, volunteer=alert.volunteer, state="on_scene")
    with pytest.raises(ApplicationError):
        answers.alert_accept(alert_id=alert.pk, volunteer=alert.volunteer)


def test_a_stood_down_responder_gets_their_own_text_even_after_the_close(incident, dispatcher):
    alert = _responder(incident, channel=Channel.SMS)
    alert_stand_down(alert_id=alert.pk, actor=dispatcher)
    incident_close(incident_id=incident.pk, actor=dispatcher)  # before the message went out
    stand_down = AlertDelivery.objects.get(alert=alert, kind=Kind.STAND_DOWN)
    assert message_texts(stand_down)[1].startswith("Vagtcentralen har afmeldt dig")
    assert AlertDelivery.objects.filter(alert=alert, kind=Kind.STAND_DOWN).count() == 1
