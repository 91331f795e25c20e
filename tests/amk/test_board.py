"""The board tells the truth at a glance (issue 12): one definition of each count, agreeing
between the board's header, its rows and the incident list; the first paint rendered by the
server; the timeline grouped and naming responders; the list with what needs attention first."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertDelivery
from alerts.selectors.incident import ALERT_COUNTS, alert_counts, incident_alert_rows
from alerts.services.timeline import alert_event
from amk.access import DISPATCHERS_GROUP
from amk.console.board import incident_board
from amk.console.selectors import incident_list_rows
from amk.models import Incident, IncidentEvent
from amk.services.incidents import incident_close
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    DefibrillatorFactory,
    DispatchPolicyFactory,
    IncidentFactory,
    UserFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.usefixtures("reference_geography")

S = Alert.State


@pytest.fixture
def console(client, db):
    user = UserFactory(username="disponent", first_name="Dorte", last_name="Hansen")
    user.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    client.force_login(user)
    return client


def _alert(incident, state, *, role="", delivery=None, answered=False, **fields):
    alert = AlertFactory(
        incident=incident,
        state=state,
        role=role,
        answered_at=timezone.now() if answered else None,
        **fields,
    )
    if delivery:
        AlertDeliveryFactory(alert=alert, channel="sms", state=delivery)
    return alert


def _incident_in_every_state() -> tuple[Incident, dict[str, int]]:
    """An incident with an alert in each state a count tells apart, and its counts by hand."""
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    D = AlertDelivery.State
    _alert(incident, S.QUEUED)
    _alert(incident, S.SENT, delivery=D.SENT)
    _alert(incident, S.DELIVERED, delivery=D.DELIVERED)
    _alert(incident, S.ACCEPTED, role="cpr", delivery=D.SENT, answered=True)
    _alert(incident, S.EN_ROUTE, role="cpr", delivery=D.DELIVERED, answered=True)
    _alert(incident, S.AED_COLLECTED, role="aed", aed=DefibrillatorFactory(), answered=True)
    _alert(incident, S.ON_SCENE, role="cpr", answered=True)
    _alert(incident, S.DECLINED, delivery=D.SENT, answered=True)
    _alert(incident, S.EXPIRED, delivery=D.SENT)
    _alert(incident, S.FAILED, delivery=D.FAILED)
    # Released unanswered when the target was reached (delivered before: still delivered).
    _alert(incident, S.RELEASED, delivery=D.DELIVERED)
    # Finished after being on scene: still counted as having accepted; no longer responding.
    _alert(incident, S.RELEASED, role="cpr", answered=True)
    expected = {
        "alerted": 12,
        "waiting": 3,
        "sent": 7,
        "delivered": 8,
        "accepted": 5,
        "on_the_way": 2,
        "on_scene": 1,
        "responding": 4,
        "declined": 1,
        "expired": 1,
        "failed": 1,
    }
    return incident, expected


def test_every_count_is_defined_once_and_agrees_between_board_rows_and_list():
    incident, expected = _incident_in_every_state()
    other = IncidentFactory()  # no alerts: zeros, and no leak between incidents
    assert set(expected) == set(ALERT_COUNTS)

    board = incident_board(incident_id=incident.pk)
    assert board["counts"] == expected
    # The header is the sum of the rows: each row lists the counts it is in.
    for key, n in expected.items():
        assert sum(key in a["counted"] for a in board["alerts"]) == n, key
    assert sum(a["accepted"] for a in board["alerts"]) == expected["accepted"]

    rows = {row.incident.pk: row for row in incident_list_rows()}
    assert rows[incident.pk].counts == expected
    assert rows[other.pk].counts == dict.fromkeys(expected, 0)
    assert alert_counts(incident_alert_rows(incident_id=incident.pk)) == expected


def test_accepted_but_not_under_way_is_not_on_the_way():
    incident = IncidentFactory(state=Incident.State.DISPATCHING)
    accepted = _alert(incident, S.ACCEPTED, role="cpr", answered=True)
    board = incident_board(incident_id=incident.pk)
    row = board["alerts"][0]
    assert (row["id"], row["state_label"]) == (accepted.pk, "Accepteret")
    assert (board["counts"]["accepted"], board["counts"]["on_the_way"]) == (1, 0)
    assert "on_the_way" not in row["counted"]

    Alert.objects.filter(pk=accepted.pk).update(state=S.EN_ROUTE)
    board = incident_board(incident_id=incident.pk)
    assert board["alerts"][0]["state_label"] == "På vej"
    assert (board["counts"]["accepted"], board["counts"]["on_the_way"]) == (1, 1)


def test_after_close_the_responders_still_agree_with_the_header(console):
    incident = IncidentFactory(state=Incident.State.ACTIVE, dispatch_wave=1)
    for name in ("Mette", "Jens", "Ole"):
        _alert(incident, S.EN_ROUTE, role="cpr", answered=True, volunteer__user__first_name=name)
    _alert(incident, S.SENT)
    incident_close(incident_id=incident.pk, actor=UserFactory())

    board = incident_board(incident_id=incident.pk)
    assert board["counts"]["accepted"] == 3
    assert {a["state"] for a in board["alerts"]} == {S.RELEASED}
    html = console.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()
    responders = html[html.index('id="responders"') : html.index('id="alerts"')]
    assert responders.count('class="alert-row"') == 3
    assert "Ingen har accepteret endnu" not in responders
    assert all(name in responders for name in ("Mette", "Jens", "Ole"))
    assert 'data-count="accepted">3<' in html
    assert "Afmeld" not in responders  # an ended incident: nobody to stand down


@pytest.mark.parametrize(
    ("wave", "label"),
    [
        (1, "Bølge 1 af 3 · radius 5,0 km"),
        (3, "Bølge 3 af 3 · radius 5,0 km"),
        (4, "Bølge 4 (ekstra, ud over de 3 planlagte) · radius 5,0 km"),
    ],
)
def test_the_wave_line_never_says_4_of_3(console, wave, label):
    DispatchPolicyFactory(max_waves=3)
    incident = IncidentFactory(
        state=Incident.State.DISPATCHING, dispatch_wave=wave, dispatch_radius_m=5000
    )
    board = incident_board(incident_id=incident.pk)
    assert board["incident"]["wave_label"] == label
    assert board["incident"]["extra_wave"] is (wave > 3)
    html = console.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()
    assert label in html
    listing = console.get(reverse("amk:incident_list")).content.decode()
    assert ("ekstra" in listing) is (wave > 3)


def test_the_warning_names_the_right_numbers():
    DispatchPolicyFactory(target_accepted=5, escalate_after_s=60)
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=3)
    Incident.objects.filter(pk=incident.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=150)
    )
    AlertFactory.create_batch(59, incident=incident, state=S.SENT)
    _alert(incident, S.ACCEPTED, role="cpr", answered=True)
    (warning,) = incident_board(incident_id=incident.pk)["warnings"]
    assert re.fullmatch(
        r"Kun 1 af de 60 alarmerede frivillige har accepteret efter 2 min 3\d s \(mål: 5\)\.",
        warning,
    ), warning


def test_first_paint_is_the_real_state_rendered_by_the_server(console):
    """Before any script runs, the page shows what the board says: counts, state, wave,
    responders, alerts and timeline; the script gets the same data as JSON."""
    DispatchPolicyFactory(max_waves=3)  # explicit: the model's default is one wave
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    Incident.objects.filter(pk=incident.pk).update(dispatch_radius_m=5000)
    mette = _alert(
        incident, S.ACCEPTED, role="cpr", answered=True, volunteer__user__first_name="Mette"
    )
    for _ in range(4):
        _alert(incident, S.SENT, delivery=AlertDelivery.State.SENT)
    IncidentEvent.objects.create(incident=incident, kind="note", message="Ring til 112")

    html = console.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()
    board = incident_board(incident_id=incident.pk)

    for key, n in board["counts"].items():
        if key != "responding":
            assert f'data-count="{key}">{n}<' in html, key
    assert 'data-field="state">Alarmerer<' in html
    assert "Bølge 1 af 3 · radius 5,0 km" in html
    assert "Ikke udsendt endnu" not in html
    responders = html[html.index('id="responders"') : html.index('id="alerts"')]
    assert "Mette" in responders
    assert f"/alerts/{mette.pk}/stand-down/" in responders
    alerts = html[html.index('id="alerts"') : html.index('id="actions"')]
    assert alerts.count('class="alert-row"') == 5
    assert alerts.count('data-counted="alerted waiting sent"') == 4
    assert "Ring til 112" in html
    assert 'id="board-data"' in html


def test_a_new_incident_says_what_is_happening_not_that_it_is_not_dispatched(console):
    incident = IncidentFactory()  # pending dispatch, a moment old
    html = console.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()
    assert "Alarmerer frivillige …" in html
    assert "Ikke udsendt" not in html
    assert 'data-count="alerted">0<' in html


def test_user_text_is_escaped_in_the_page_and_the_json(console):
    evil = '<img src=x onerror="alert(1)">'
    incident = IncidentFactory(
        state=Incident.State.DISPATCHING, address=evil, note=evil, dispatch_wave=1
    )
    _alert(incident, S.EN_ROUTE, role="cpr", answered=True, volunteer__user__first_name=evil)
    DefibrillatorFactory(name=evil)
    IncidentEvent.objects.create(incident=incident, kind="note", message=evil)
    html = console.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()
    assert "<img" not in html
    assert "&lt;img src=x" in html


# --- The timeline ----------------------------------------------------------------------------


def _events(alerts, state, *, actor=None):
    IncidentEvent.objects.bulk_create([alert_event(a, state, actor=actor) for a in alerts])


def test_the_timeline_groups_bulk_events_and_names_responders():
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=2)
    wave1 = AlertFactory.create_batch(20, incident=incident, state=S.SENT)
    wave2 = AlertFactory.create_batch(4, incident=incident, state=S.SENT, wave=2)
    _events(wave1, S.SENT)
    mette = wave1[0]
    mette.volunteer.user.first_name = "Mette"
    mette.volunteer.user.save()
    Alert.objects.filter(pk=mette.pk).update(state=S.ACCEPTED, role="cpr")
    _events([mette], S.ACCEPTED)
    secret = wave1[1]
    secret.volunteer.user.first_name = "Hemmelig"
    secret.volunteer.user.save()
    Alert.objects.filter(pk__in=[a.pk for a in wave1[1:4]]).update(state=S.DECLINED)
    _events(wave1[1:4], S.DECLINED)
    _events(wave2, S.SENT)

    lines = incident_board(incident_id=incident.pk)["events"]
    messages = [line["message"] for line in lines]
    assert messages == [
        "4 alarmer sendt, bølge 2",
        "3 afviste",
        f"Mette (#{mette.volunteer_id}): Accepteret",
        "20 alarmer sendt, bølge 1",
    ]
    assert [line["count"] for line in lines] == [4, 3, 1, 20]
    assert [line["highlight"] for line in lines] == [False, False, True, False]
    declined = lines[1]["members"]
    assert declined == ", ".join(f"Frivillig #{a.volunteer_id}" for a in wave1[1:4])
    assert "Hemmelig" not in str(lines)  # declined: never named
    assert lines[3]["members"].endswith("og 15 mere")
    assert lines[3]["members"].startswith(f"Mette (#{mette.volunteer_id}), Frivillig #")


def test_bulk_events_interleaved_with_others_are_grouped_per_run():
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    alerts = AlertFactory.create_batch(6, incident=incident, state=S.SENT)
    for alert in alerts[:3]:
        _events([alert], S.DELIVERED)
        _events([alert], S.DECLINED)
    IncidentEvent.objects.create(incident=incident, kind="note", message="Ambulance 4 min")
    stander = UserFactory(first_name="Dorte", last_name="Hansen")
    _events(alerts[3:], S.CANCELLED, actor=stander)
    lines = incident_board(incident_id=incident.pk)["events"]
    assert [(line["message"], line["actor"]) for line in lines] == [
        ("3 afmeldt", "Dorte Hansen"),
        ("Ambulance 4 min", ""),
        ("3 afviste", ""),
        ("3 leveret", ""),
    ]


# --- The incident list -----------------------------------------------------------------------


def _aged(incident, seconds):
    Incident.objects.filter(pk=incident.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=seconds)
    )
    return incident


def test_the_list_puts_what_needs_attention_first_with_the_reason(console):
    DispatchPolicyFactory(target_accepted=2, escalate_after_s=60)
    ended = IncidentFactory(address="Afsluttet Vej 1")
    incident_close(incident_id=ended.pk, actor=UserFactory())
    fine = IncidentFactory(address="Fin Vej 2", state=Incident.State.ACTIVE)
    AlertFactory.create_batch(2, incident=fine, state=S.EN_ROUTE, role="cpr")
    _aged(fine, 600)
    young = IncidentFactory(address="Ny Vej 3", state=Incident.State.DISPATCHING)
    AlertFactory.create_batch(3, incident=young, state=S.SENT)
    short = IncidentFactory(address="Kort Vej 4", state=Incident.State.DISPATCHING)
    AlertFactory.create_batch(40, incident=short, state=S.SENT)
    _alert(short, S.ACCEPTED, role="cpr")
    _aged(short, 300)
    failed = IncidentFactory(address="Fejl Vej 5", state=Incident.State.DISPATCHING)
    AlertFactory.create_batch(2, incident=failed, state=S.FAILED)
    _aged(IncidentFactory(address="Hængt Vej 6"), 40)
    excluded = _aged(IncidentFactory(address="Udelukket Vej 7", exclusion_reasons=["trauma"]), 900)
    Incident.objects.filter(pk=excluded.pk).update(state=Incident.State.ACTIVE)

    rows = incident_list_rows()
    assert [row.incident.address for row in rows] == [
        "Kort Vej 4",  # short of target after the escalation time
        "Fejl Vej 5",  # volunteers not reached, while short of target
        "Hængt Vej 6",  # not dispatched after 40 s
        "Ny Vej 3",  # then the other open ones, newest first
        "Fin Vej 2",
        "Udelukket Vej 7",
        "Afsluttet Vej 1",  # then the ended ones
    ]
    reasons = {row.incident.address: [r.code for r in row.attention] for row in rows}
    assert reasons["Kort Vej 4"] == ["short_of_target"]
    assert reasons["Fejl Vej 5"] == ["failed"]
    assert reasons["Hængt Vej 6"] == ["not_dispatched"]
    assert not any(reasons[a] for a in ("Fin Vej 2", "Ny Vej 3", "Udelukket Vej 7"))

    html = console.get(reverse("amk:incident_list")).content.decode()
    assert html.index("Kort Vej 4") < html.index("Fejl Vej 5") < html.index("Hængt Vej 6")
    assert html.index("Hængt Vej 6") < html.index("Fin Vej 2") < html.index("Afsluttet Vej 1")
    assert "1 af målet på 2 har accepteret" in html
    assert "2 ikke nået" in html
    assert "Ikke udsendt" in html
    assert "3 kræver opmærksomhed" in html
    # The reason's full text, with the same numbers as the board's warning.
    board = incident_board(incident_id=short.pk)
    assert board["warnings"][0].startswith("Kun 1 af de 41 alarmerede frivillige")


def test_a_volunteers_name_on_the_list_and_board_only_once_they_accept():
    incident = IncidentFactory(state=Incident.State.DISPATCHING)
    volunteer = VolunteerFactory(user__first_name="Karen")
    alert = _alert(incident, S.SENT, volunteer=volunteer)
    assert "Karen" not in str(incident_board(incident_id=incident.pk))
    Alert.objects.filter(pk=alert.pk).update(state=S.ACCEPTED, role="cpr")
    row = incident_board(incident_id=incident.pk)["alerts"][0]
    assert (row["name"], row["display_name"]) == ("Karen", f"Karen (#{volunteer.pk})")


def test_an_incident_left_pending_says_so_in_the_wave_line_and_the_warning():
    incident = IncidentFactory()
    Incident.objects.filter(pk=incident.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=20)
    )
    board = incident_board(incident_id=incident.pk)
    assert board["incident"]["wave_label"] == "Ikke udsendt endnu"
    assert board["warnings"] == [
        "Ikke udsendt efter 20 s: tjek alarmeringstjenesten (dispatch-worker)."
    ]


def test_a_corps_member_without_a_position_is_unknown_distance_and_after_the_known(console):
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    unknown = _alert(incident, S.SENT, pool=Alert.Pool.CORPS, distance_m=None)
    near = _alert(incident, S.SENT, distance_m=800)

    board = incident_board(incident_id=incident.pk)
    html = console.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()

    assert [a["id"] for a in board["alerts"]] == [near.pk, unknown.pk]
    assert "afstand ukendt" in html
    assert ">0 m<" not in html
