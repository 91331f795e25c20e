"""Every volunteer-facing SMS (alerts.messages), rendered with worst-case values: Danish,
GSM-7 only, one segment each (the details of an AED fetcher: two, see the README)."""

import datetime as dt
import itertools
import re

import pytest
from django.utils import timezone

from alerts import messages
from alerts.messages import GSM7_BASIC, SMS_SEGMENT, gsm7, message_texts
from alerts.models import Alert, AlertDelivery
from amk.models import Incident, Municipality
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    DefibrillatorFactory,
    IncidentFactory,
    LocalAreaFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.usefixtures("reference_geography")

Channel, Kind = AlertDelivery.Channel, AlertDelivery.Kind
REF = 9_999_999  # a reference of seven digits: ten million alerts from now
_refs = itertools.count(REF, -1)
# Realistic worst cases: long Danish street names, floors and sides, long AED names.
LONG_ADDRESS = "Dronning Margrethes Vej 112, st. tv., 8960 Randers SØ"
AED = {
    "name": "Hjertestarter Ringkøbing-Skjern Rådhus",
    "address": "Ved Fjorden 6, 6950 Ringkøbing",
    "placement": "Ved hovedindgangen, til venstre for døren",
    "cabinet_code": "1234",
}


def longest_municipality() -> Municipality:
    return max(Municipality.objects.defer("area"), key=lambda m: len(m.name))


def one_segment(text: str) -> bool:
    return len(text) <= SMS_SEGMENT and set(text) <= GSM7_BASIC


def alert_with(*, incident_state=Incident.State.DISPATCHING, **fields) -> Alert:
    """An alert with a seven-digit reference, for an incident at a long address in the
    municipality with the longest name."""
    ended = incident_state not in Incident.OPEN_STATES
    incident = IncidentFactory(
        state=incident_state,
        municipality=longest_municipality(),
        address=LONG_ADDRESS,
        closed_at=timezone.now() if ended else None,
    )
    alert = AlertFactory(incident=incident, **fields)
    ref = next(_refs)
    Alert.objects.filter(pk=alert.pk).update(id=ref)
    return Alert.objects.select_related("incident__municipality", "aed").get(pk=ref)


def responder_fields() -> dict:
    return {
        "state": Alert.State.RELEASED,
        "answered_at": timezone.now() - dt.timedelta(minutes=12),
        "role": Alert.Role.CPR,
    }


def sms(alert: Alert, kind: str) -> str:
    return message_texts(AlertDeliveryFactory.build(alert=alert, channel=Channel.SMS, kind=kind))[1]


def test_every_delivery_sms_fits_one_gsm7_segment_with_worst_case_values():
    far = alert_with(distance_m=11_949)
    corps = alert_with(distance_m=None, pool=Alert.Pool.CORPS)
    cpr = alert_with(state=Alert.State.ACCEPTED, role=Alert.Role.CPR)
    closed_responder = alert_with(incident_state=Incident.State.CLOSED, **responder_fields())
    closed_waiting = alert_with(incident_state=Incident.State.CLOSED, state=Alert.State.RELEASED)
    cancelled = alert_with(incident_state=Incident.State.CANCELLED, state=Alert.State.CANCELLED)
    released = alert_with(state=Alert.State.RELEASED)
    texts = {
        "alert, far": sms(far, Kind.ALERT),
        "alert, corps without a position": sms(corps, Kind.ALERT),
        "details, CPR": sms(cpr, Kind.DETAILS),
        "release": sms(released, Kind.RELEASE),
        "stand-down, closed, responder": sms(closed_responder, Kind.STAND_DOWN),
        "stand-down, closed, waiting": sms(closed_waiting, Kind.STAND_DOWN),
        "stand-down, cancelled": sms(cancelled, Kind.STAND_DOWN),
    }

    assert {name: len(text) for name, text in texts.items() if not one_segment(text)} == {}
    assert all(re.search(r" \(alarm 99999\d\d\)$", text) for text in texts.values()), texts
    assert longest_municipality().name in texts["alert, far"]


def test_the_details_of_an_aed_fetcher_fit_two_segments_in_gsm7():
    aed = DefibrillatorFactory(**AED)
    alert = alert_with(state=Alert.State.ACCEPTED, role=Alert.Role.AED, aed=aed)

    text = sms(alert, Kind.DETAILS)

    assert set(text) <= GSM7_BASIC
    assert len(text) <= 2 * 153  # a concatenated SMS carries 153 characters a segment
    for value in (*AED.values(), LONG_ADDRESS):
        assert value in text


def test_every_answer_to_an_sms_fits_one_gsm7_segment_with_worst_case_values():
    place = longest_municipality().name
    texts = {
        "declined": messages.reply_declined(REF),
        "withdrawn": messages.reply_withdrawn(REF),
        "already accepted": messages.reply_already_accepted(REF),
        "already out": messages.reply_already_out(REF),
        "too late": messages.reply_too_late(REF),
        "too late, no alert": messages.reply_too_late(None),
        "engaged elsewhere": messages.reply_engaged_elsewhere(REF, REF - 1),
        "ambiguous, two": messages.reply_ambiguous("NEJ", [(REF, place), (REF - 1, place)]),
        "ambiguous, five": messages.reply_ambiguous("NEJ", [(REF - i, place) for i in range(5)]),
        "unknown reference": messages.reply_unknown_reference(str(REF * 10)),
        "not understood": messages.reply_not_understood(),
        "unknown sender": messages.reply_unknown_sender(),
        "out of range": messages.reply_refused(
            "Du er nu for langt væk fra hændelsen; andre er blevet alarmeret."
        ),
    }

    assert {name: len(text) for name, text in texts.items() if not one_segment(text)} == {}
    assert "Svar NEJ 9999999 eller NEJ 9999998." in texts["ambiguous, two"]
    assert texts["ambiguous, five"].startswith("Du har 5 åbne alarmer: 9999999 (")
    assert texts["ambiguous, five"].count(f"({place})") == 3


def test_close_and_cancel_say_different_things():
    closed = alert_with(incident_state=Incident.State.CLOSED, **responder_fields())
    cancelled = alert_with(incident_state=Incident.State.CANCELLED, state=Alert.State.CANCELLED)

    close_text, cancel_text = sms(closed, Kind.STAND_DOWN), sms(cancelled, Kind.STAND_DOWN)

    assert close_text.startswith("Ambulancen er fremme, tak for hjælpen.")
    assert "afblæst" not in close_text
    assert cancel_text.startswith("Alarmen er afblæst, tag ikke afsted")
    push_title = message_texts(
        AlertDeliveryFactory.build(alert=closed, channel=Channel.PUSH, kind=Kind.STAND_DOWN)
    )[0]
    assert push_title == "Ambulancen er fremme"


def test_a_corps_member_without_a_position_is_told_their_local_area_never_0_m():
    area = LocalAreaFactory()
    member = VolunteerFactory(
        local_area=area, is_heart_runner=False, location=None, location_updated_at=None
    )
    alert = AlertFactory(volunteer=member, pool=Alert.Pool.CORPS, distance_m=None)

    text = sms(alert, Kind.ALERT)

    assert "i dit lokalområde i Aarhus" in text
    assert "0 m" not in text
    assert "tæt på dig" not in text


@pytest.mark.parametrize(
    ("distance_m", "shown"),
    [
        (0, "ca. 100 m fra dig"),
        (449, "ca. 400 m fra dig"),
        (960, "ca. 1,0 km fra dig"),
        (12_345, "ca. 12,3 km fra dig"),
    ],
)
def test_distances_are_rounded_and_never_zero(distance_m, shown):
    assert shown in sms(AlertFactory(distance_m=distance_m), Kind.ALERT)


def test_gsm7_brings_registry_values_into_the_basic_set():
    assert gsm7("Rådhus – “Indgang C” ’s, Café Åbo, Málaga…") == (
        'Rådhus - "Indgang C" \'s, Café Åbo, Malaga...'
    )
    assert gsm7("Æble ØST ü ß") == "Æble ØST ü ß"
    assert gsm7("👍") == "?"
    assert set(gsm7("æøåÆØÅ€^{}[]~|\\")) <= GSM7_BASIC
