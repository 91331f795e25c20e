"""SMS replies through Twilio's inbound webhook, signed with twilio's own RequestValidator,
against the real view: every message recorded once, read, acted on and answered (TwiML)."""

import itertools
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from alerts.models import Alert, AlertDelivery, InboundMessage
from alerts.services.inbound import Reading, sms_read
from alerts.webhooks import twiml_reply
from amk.models import Incident, IncidentEvent, Municipality
from tests.factories import (
    AARHUS_C,
    AlertDeliveryFactory,
    AlertFactory,
    DefibrillatorFactory,
    IncidentFactory,
    VolunteerFactory,
    point,
)

pytestmark = pytest.mark.usefixtures("reference_geography")

TOKEN = "test-twilio-auth-token"
Outcome = InboundMessage.Outcome
_sids = itertools.count(1)


@pytest.fixture(autouse=True)
def _twilio_token(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = ""


def sms_in(client, volunteer_or_phone, body: str, *, sid: str | None = None, **headers):
    """Twilio's POST for an SMS to the alert number, signed as Twilio signs it."""
    phone = getattr(volunteer_or_phone, "phone", volunteer_or_phone)
    params = {
        "MessageSid": sid or f"SM{next(_sids):032d}",
        "From": str(phone),
        "To": "+4570112112",
        "Body": body,
    }
    path = reverse("twilio-inbound")
    signature = RequestValidator(TOKEN).compute_signature(f"http://testserver{path}", params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **headers)


def parse(xml: bytes | str) -> ET.Element:
    return ET.fromstring(xml)  # noqa: S314  our own view's response, in a test


def reply(response) -> str | None:
    """The text of the TwiML <Message>, None without one (the XML must parse)."""
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    root = parse(response.content)
    assert root.tag == "Response"
    message = root.find("Message")
    return None if message is None else message.text


def someone_on_scene(incident) -> None:
    """A responder already doing CPR: the next acceptor may fetch an AED (alerts.services.roles)."""
    AlertFactory(
        incident=incident,
        volunteer=VolunteerFactory(location=point(AARHUS_C[0], AARHUS_C[1] + 0.0001)),
        state=Alert.State.ON_SCENE,
        role=Alert.Role.CPR,
        answered_at=timezone.now(),
    )


def open_alert(volunteer=None, *, municipality_code="0751", **fields) -> Alert:
    """An alert sent by SMS for an incident still recruiting."""
    incident = IncidentFactory(
        state=Incident.State.DISPATCHING,
        dispatch_wave=1,
        municipality=Municipality.objects.get(code=municipality_code),
    )
    fields.setdefault("state", Alert.State.SENT)
    alert = AlertFactory(incident=incident, volunteer=volunteer or VolunteerFactory(), **fields)
    AlertDeliveryFactory(alert=alert, channel="sms", state=AlertDelivery.State.SENT)
    return alert


def state_of(alert) -> str:
    return Alert.objects.get(pk=alert.pk).state


def details(alert):
    return AlertDelivery.objects.filter(alert=alert, kind=AlertDelivery.Kind.DETAILS)


# --- Reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "answer", "reference"),
    [
        ("JA", "JA", None),
        ("ja tak", "JA", None),
        ("Ja!", "JA", None),
        ("  JA, jeg kommer", "JA", None),
        ("jaaa", "JA", None),
        ("Jep", "JA", None),
        ("yes", "JA", None),
        ("JA 4821", "JA", "4821"),
        ("Ja tak 4821", "JA", "4821"),
        ("ja, alarm 4821!", "JA", "4821"),
        ("JA4821", "JA", "4821"),
        ("4821 ja", "JA", "4821"),
        ("ja, er der om 5 min", "JA", None),
        ("NEJ", "NEJ", None),
        ("nej 4821", "NEJ", "4821"),
        ("Nej tak.", "NEJ", None),
        ("nej, jeg kan ikke", "NEJ", None),
        ("Næ", "NEJ", None),
    ],
)
def test_answers_are_read_tolerantly(body, answer, reference):
    assert sms_read(body) == Reading(answer, reference)


@pytest.mark.parametrize(
    "body",
    ["kommer", "ok", "", "   ", "JAJA", "hvad sker der?", "ja, men kan ikke", "nej ja", "👍"],
)
def test_anything_else_is_not_understood(body):
    assert sms_read(body) == Reading(None, None)


def test_the_answer_is_escaped_twiml():
    xml = twiml_reply('Alarm <4821> & "Aarhus"')

    assert parse(xml).find("Message").text == 'Alarm <4821> & "Aarhus"'
    assert "&lt;4821&gt; &amp;" in xml
    assert parse(twiml_reply("")).find("Message") is None


# --- Answers ----------------------------------------------------------------------------------


def test_ja_accepts_the_only_open_alert_and_the_details_sms_is_the_answer(client):
    DefibrillatorFactory(location=point(AARHUS_C[0], AARHUS_C[1] + 0.004), cabinet_code="4711")
    alert = open_alert()
    someone_on_scene(alert.incident)

    response = sms_in(client, alert.volunteer, "Ja tak!")

    assert reply(response) is None  # no second message: the details SMS answers
    alert.refresh_from_db()
    assert (alert.state, alert.role) == (Alert.State.ACCEPTED, Alert.Role.AED)
    assert details(alert).filter(channel="sms").count() == 1
    message = InboundMessage.objects.get()
    assert (message.outcome, message.alert, message.volunteer) == (
        Outcome.ACCEPTED,
        alert,
        alert.volunteer,
    )
    assert (message.body, message.from_phone, message.reply) == (
        "Ja tak!",
        str(alert.volunteer.phone),
        "",
    )


def test_a_replayed_message_changes_nothing_and_gets_the_same_answer(client):
    volunteer = VolunteerFactory()
    first, second = open_alert(volunteer), open_alert(volunteer)
    sms_in(client, volunteer, f"NEJ {first.pk}", sid="SMreplay")
    events = IncidentEvent.objects.count()
    declined_at = Alert.objects.get(pk=first.pk).answered_at

    again = sms_in(client, volunteer, f"NEJ {first.pk}", sid="SMreplay")
    # A replay is the same message: even a changed body is not read again.
    changed = sms_in(client, volunteer, f"JA {second.pk}", sid="SMreplay")

    assert reply(again) == reply(changed) == f"Tak for svaret. Du er meldt fra alarm {first.pk}."
    assert InboundMessage.objects.count() == 1
    assert IncidentEvent.objects.count() == events
    assert Alert.objects.get(pk=first.pk).answered_at == declined_at
    assert state_of(second) == Alert.State.SENT


def test_a_replayed_ja_sends_no_second_details_sms(client):
    alert = open_alert()
    sms_in(client, alert.volunteer, "JA", sid="SMja")

    assert reply(sms_in(client, alert.volunteer, "JA", sid="SMja")) is None

    assert details(alert).count() == 1
    assert InboundMessage.objects.count() == 1


def test_ja_sent_twice_accepts_once_and_says_so(client):
    alert = open_alert()
    sms_in(client, alert.volunteer, "JA")

    answer = reply(sms_in(client, alert.volunteer, "ja"))

    assert answer == (
        f"Du har allerede sagt JA til alarm {alert.pk}. Adressen og din opgave er sendt til dig."
    )
    assert details(alert).count() == 1
    assert list(InboundMessage.objects.order_by("pk").values_list("outcome", flat=True)) == [
        Outcome.ACCEPTED,
        Outcome.ALREADY_ANSWERED,
    ]


def test_a_bare_answer_with_several_open_alerts_asks_which_and_changes_nothing(client):
    volunteer = VolunteerFactory()
    older = open_alert(volunteer)
    newer = open_alert(volunteer, municipality_code="0710")  # Favrskov
    events = IncidentEvent.objects.count()

    answer = reply(sms_in(client, volunteer, "JA"))

    assert answer == (
        f"Du har 2 åbne alarmer: {newer.pk} (Favrskov), {older.pk} (Aarhus). "
        f"Svar JA {newer.pk} eller JA {older.pk}."
    )
    assert (state_of(older), state_of(newer)) == (Alert.State.SENT, Alert.State.SENT)
    assert IncidentEvent.objects.count() == events
    assert InboundMessage.objects.get().outcome == Outcome.AMBIGUOUS


def test_a_reference_answers_that_alert(client):
    volunteer = VolunteerFactory()
    older, newer = open_alert(volunteer), open_alert(volunteer)

    assert reply(sms_in(client, volunteer, f"Ja tak {older.pk}")) is None

    assert (state_of(older), state_of(newer)) == (Alert.State.ACCEPTED, Alert.State.SENT)
    assert InboundMessage.objects.get().alert == older


def test_someone_elses_reference_changes_nothing(client):
    mine, theirs = open_alert(), open_alert()

    answer = reply(sms_in(client, mine.volunteer, f"JA {theirs.pk}"))

    assert answer == (
        f"Vi kender ingen alarm {theirs.pk} til dit nummer. Brug nummeret sidst i din alarm-SMS."
    )
    assert (state_of(mine), state_of(theirs)) == (Alert.State.SENT, Alert.State.SENT)
    message = InboundMessage.objects.get()
    assert (message.outcome, message.alert) == (Outcome.UNKNOWN_REFERENCE, None)
    assert reply(sms_in(client, mine.volunteer, "JA 99999999999999999999999")).startswith(
        "Vi kender ingen alarm 99999999999999999999999"
    )


def test_nej_declines_with_thanks(client):
    alert = open_alert()

    answer = reply(sms_in(client, alert.volunteer, "nej"))

    assert answer == f"Tak for svaret. Du er meldt fra alarm {alert.pk}."
    assert state_of(alert) == Alert.State.DECLINED
    assert not details(alert).exists()


def test_nej_after_ja_withdraws_and_frees_the_aed(client):
    aed = DefibrillatorFactory(location=point(AARHUS_C[0], AARHUS_C[1] + 0.004))
    alert = open_alert()
    someone_on_scene(alert.incident)
    sms_in(client, alert.volunteer, "JA")
    assert Alert.objects.get(pk=alert.pk).aed == aed

    answer = reply(sms_in(client, alert.volunteer, f"NEJ {alert.pk}"))

    assert answer == (
        f"Tak for besked. Du er meldt fra alarm {alert.pk}, og din opgave gives videre."
    )
    alert.refresh_from_db()
    assert (alert.state, alert.role, alert.aed, alert.ended_at is not None) == (
        Alert.State.RELEASED,
        Alert.Role.NONE,
        None,
        True,
    )
    event = IncidentEvent.objects.filter(alert=alert).latest("pk")
    assert event.kind == IncidentEvent.Kind.ALERT_RELEASED
    assert event.message.endswith("(meldte fra)")
    # The AED can be claimed again: the next one to accept is sent for it.
    other = AlertFactory(incident=alert.incident, state=Alert.State.SENT)
    sms_in(client, other.volunteer, "JA")
    assert Alert.objects.get(pk=other.pk).aed == aed


def test_anything_else_gets_the_way_to_answer(client):
    alert = open_alert()

    for body in ("kommer", "ok", ""):
        answer = reply(sms_in(client, alert.volunteer, body))
        assert answer.startswith("Vi forstod ikke dit svar. Svar JA, hvis du kan tage afsted")
        assert "ring 1-1-2" in answer

    assert state_of(alert) == Alert.State.SENT
    assert set(InboundMessage.objects.values_list("outcome", flat=True)) == {Outcome.NOT_UNDERSTOOD}


def test_after_the_incident_ended_it_is_too_late(client):
    alert = open_alert()
    Incident.objects.filter(pk=alert.incident_id).update(
        state=Incident.State.CANCELLED, closed_at=timezone.now()
    )

    bare = reply(sms_in(client, alert.volunteer, "JA"))
    referenced = reply(sms_in(client, alert.volunteer, f"JA {alert.pk}"))

    too_late = (
        f"Alarm {alert.pk} er slut, så du skal ikke afsted. Tak fordi du var klar til at hjælpe."
    )
    assert bare == referenced == too_late
    assert state_of(alert) == Alert.State.SENT
    assert not details(alert).exists()


@pytest.mark.parametrize("state", [Alert.State.EXPIRED, Alert.State.RELEASED])
def test_an_expired_or_released_alert_is_too_late(client, state):
    alert = open_alert(state=state)

    answer = reply(sms_in(client, alert.volunteer, f"JA {alert.pk}"))

    assert answer.startswith(f"Alarm {alert.pk} er slut, så du skal ikke afsted.")
    assert state_of(alert) == state
    assert InboundMessage.objects.get().outcome == Outcome.TOO_LATE


def test_without_any_alert_nobody_needs_to_go(client):
    answer = reply(sms_in(client, VolunteerFactory(), "JA"))

    assert answer.startswith("Du har ingen åben alarm, så du skal ikke afsted.")


def test_a_responder_on_the_way_cannot_accept_another_alert(client):
    volunteer = VolunteerFactory()
    busy = open_alert(volunteer, state=Alert.State.EN_ROUTE, answered_at=timezone.now())
    new = open_alert(volunteer)

    answer = reply(sms_in(client, volunteer, "JA"))

    assert answer == (
        f"Du er allerede på vej til en anden alarm ({busy.pk}), så tag ikke alarm {new.pk}. "
        f"Kan du ikke nå frem, så svar NEJ {busy.pk}."
    )
    assert (state_of(busy), state_of(new)) == (Alert.State.EN_ROUTE, Alert.State.SENT)
    assert not details(new).exists()
    assert InboundMessage.objects.get().outcome == Outcome.ENGAGED_ELSEWHERE
    # A bare NEJ could mean either: asked which.
    assert reply(sms_in(client, volunteer, "NEJ")).endswith(
        f"Svar NEJ {new.pk} eller NEJ {busy.pk}."
    )


def test_a_responder_who_moved_away_is_told_why(client):
    far = VolunteerFactory(location=point(AARHUS_C[0], AARHUS_C[1] + 0.2))  # about 22 km
    alert = open_alert(far)

    answer = reply(sms_in(client, far, "JA"))

    assert answer == "Du er nu for langt væk fra hændelsen; andre er blevet alarmeret."
    assert InboundMessage.objects.get().outcome == Outcome.REFUSED
    assert state_of(alert) == Alert.State.SENT


@pytest.mark.parametrize("sender", ["+4599999999", "Twilio", ""])
def test_an_unknown_sender_is_told_so(client, sender):
    alert = open_alert()

    response = sms_in(client, sender or "+4500000000", "JA")

    assert reply(response) == (
        "Dit nummer er ikke tilmeldt Hjertealarm, så vi kan ikke bruge dit svar. "
        "Ved nødsituation: ring 1-1-2."
    )
    assert state_of(alert) == Alert.State.SENT
    assert InboundMessage.objects.get().outcome == Outcome.UNKNOWN_SENDER


def test_an_unknown_sender_is_told_once_a_day_not_for_every_text(client):
    first = sms_in(client, "+4599999999", "JA")
    again = [sms_in(client, "+4599999999", "JA") for _ in range(5)]
    other = sms_in(client, "+4588888888", "JA")

    assert reply(first)
    assert [reply(r) for r in again] == [None] * 5  # recorded, not answered
    assert reply(other)
    assert InboundMessage.objects.filter(outcome=Outcome.UNKNOWN_SENDER).count() == 7


def test_answers_are_danish_whatever_the_request_asks_for(client):
    alert = open_alert()

    answer = reply(sms_in(client, alert.volunteer, "NEJ", HTTP_ACCEPT_LANGUAGE="en"))

    assert answer.startswith("Tak for svaret.")


def test_an_overlong_message_id_is_a_400_naming_it(client):
    response = sms_in(client, VolunteerFactory(), "JA", sid="SM" + "0" * 100)

    assert response.status_code == 400
    assert list(response.json()) == ["MessageSid"]
    assert not InboundMessage.objects.exists()


def test_an_unsigned_message_is_refused_and_not_recorded(client):
    alert = open_alert()

    response = client.post(
        reverse("twilio-inbound"),
        {"MessageSid": "SMx", "From": str(alert.volunteer.phone), "Body": "JA"},
    )

    assert response.status_code == 403
    assert not InboundMessage.objects.exists()
    assert state_of(alert) == Alert.State.SENT
