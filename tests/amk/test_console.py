"""The dispatcher console (amk.console) against real PostGIS: access, forms, board, actions."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertDelivery
from alerts.services import waves
from amk.access import DISPATCHERS_GROUP
from amk.console.board import incident_board
from amk.console.forms import parse_coordinates
from amk.console.selectors import incident_list_rows
from amk.models import Incident, IncidentEvent
from amk.services.incidents import incident_cancel
from tests.factories import (
    AARHUS_C,
    AlertDeliveryFactory,
    AlertFactory,
    DefibrillatorFactory,
    DispatchPolicyFactory,
    IncidentFactory,
    UserFactory,
    VolunteerFactory,
    point,
)

pytestmark = pytest.mark.usefixtures("reference_geography")

PASSWORD = "correct horse battery staple"


@pytest.fixture
def dispatcher(db):
    user = UserFactory(username="disponent", first_name="Dorte")
    user.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def volunteer_user(db):
    return VolunteerFactory().user


@pytest.fixture
def console(client, dispatcher):
    client.force_login(dispatcher)
    return client


def _urls(incident_id: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("amk:incident_list")),
        ("get", reverse("amk:incident_create")),
        ("get", reverse("amk:incident_detail", args=[incident_id])),
        ("get", reverse("amk:incident_board", args=[incident_id])),
        ("get", reverse("amk:place_search") + "?q=Aarhus"),
        ("post", reverse("amk:incident_note", args=[incident_id])),
        ("post", reverse("amk:incident_escalate", args=[incident_id])),
        ("post", reverse("amk:incident_close", args=[incident_id])),
        ("post", reverse("amk:incident_cancel", args=[incident_id])),
    ]


# --- Access -----------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login_everywhere(client):
    incident = IncidentFactory()
    for method, url in _urls(incident.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login") + "?next="), url
    incident.refresh_from_db()
    assert incident.state == Incident.State.PENDING_DISPATCH


def test_volunteer_gets_403_everywhere(client, volunteer_user):
    incident = IncidentFactory()
    client.force_login(volunteer_user)
    for method, url in _urls(incident.pk):
        assert getattr(client, method)(url).status_code == 403, url
    incident.refresh_from_db()
    assert incident.state == Incident.State.PENDING_DISPATCH
    assert not IncidentEvent.objects.filter(incident=incident).exists()


@pytest.mark.parametrize("who", ["dispatcher", "superuser"])
def test_dispatchers_and_superusers_see_every_page(client, request, who):
    incident = IncidentFactory()
    client.force_login(request.getfixturevalue(who))
    for method, url in _urls(incident.pk):
        if method == "get":
            assert client.get(url).status_code == 200, url


def test_login_page_and_login_flow(client, dispatcher):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b"csrfmiddlewaretoken" in page.content
    response = client.post(reverse("login"), {"username": "disponent", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("amk:incident_list")
    assert client.get(reverse("amk:incident_list")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("amk:incident_list")).status_code == 302


def test_csrf_is_enforced_on_console_forms(dispatcher):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(dispatcher)
    incident = IncidentFactory()
    response = client.post(reverse("amk:incident_note", args=[incident.pk]), {"text": "hej"})
    assert response.status_code == 403
    page = client.get(reverse("amk:incident_create"))
    assert b"csrfmiddlewaretoken" in page.content


# --- Incident list ----------------------------------------------------------------------------


def test_list_shows_open_first_then_recent_ended_with_counts(console, django_assert_num_queries):
    old_open = IncidentFactory(address="Søndergade 1", state=Incident.State.DISPATCHING)
    new_open = IncidentFactory(address="Banegårdspladsen 2", state=Incident.State.DISPATCHING)
    ended = IncidentFactory(address="Vestergade 3")
    incident_cancel(incident_id=ended.pk, actor=None)
    long_ago = IncidentFactory(address="Gammel Gade 4")
    Incident.objects.filter(pk=long_ago.pk).update(
        state=Incident.State.CLOSED, closed_at=timezone.now() - dt.timedelta(days=2)
    )
    AlertFactory.create_batch(3, incident=new_open)
    AlertFactory(incident=new_open, state=Alert.State.ACCEPTED, role=Alert.Role.CPR)
    # Five minutes old and at its target (5 accepted): open, but nothing needs attention.
    AlertFactory.create_batch(5, incident=old_open, state=Alert.State.ACCEPTED, role="cpr")
    Incident.objects.filter(pk=old_open.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=5)
    )

    rows = incident_list_rows()
    assert [row.incident.pk for row in rows] == [new_open.pk, old_open.pk, ended.pk]
    assert (rows[0].counts["alerted"], rows[0].counts["accepted"]) == (4, 1)
    assert [row.attention for row in rows] == [[], [], []]

    with django_assert_num_queries(5):  # session, user, groups check, incidents, policy
        response = console.get(reverse("amk:incident_list"))
    html = response.content.decode()
    assert "Banegårdspladsen 2" in html
    assert "Vestergade 3" in html
    assert "Gammel Gade 4" not in html
    assert html.index("Banegårdspladsen 2") < html.index("Søndergade 1") < html.index("Vestergade")

    fragment = console.get(reverse("amk:incident_list") + "?fragment=rows")
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert "Banegårdspladsen 2" in fragment.content.decode()


def test_list_query_count_does_not_grow_with_incidents(console, django_assert_num_queries):
    for _ in range(3):
        AlertFactory.create_batch(2, incident=IncidentFactory())
    with django_assert_num_queries(5):
        console.get(reverse("amk:incident_list") + "?fragment=rows")
    for _ in range(10):
        AlertFactory.create_batch(2, incident=IncidentFactory())
    with django_assert_num_queries(5):
        console.get(reverse("amk:incident_list") + "?fragment=rows")


# --- New incident -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "56.1567, 10.2108",
        "56.1567,10.2108",
        "56,1567 10,2108",
        "56.1567° N, 10.2108° E",
        "10.2108 56.1567",
        "10.2108, 56.1567",
        " 56.1567  10.2108 ",
    ],
)
def test_coordinates_are_parsed_tolerantly(text):
    parsed = parse_coordinates(text)
    assert (round(parsed.y, 4), round(parsed.x, 4)) == (56.1567, 10.2108)


@pytest.mark.parametrize("text", ["56.1567", "a, b", "1 2 3", "95.0, 10.0", "45.0, 200.0"])
def test_bad_coordinates_are_refused(text):
    from django import forms

    with pytest.raises(forms.ValidationError):
        parse_coordinates(text)


def test_create_inside_region(console, dispatcher, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = console.post(
            reverse("amk:incident_create"),
            {
                "location": "56.1567, 10.2108",
                "address": "Store Torv 1, 8000 Aarhus C",
                "note": "Mand, 60 år, bevidstløs",
            },
        )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("amk:incident_detail", args=[incident.pk])
    assert incident.municipality.name == "Aarhus"
    assert incident.created_by == dispatcher
    assert incident.exclusion_reasons == []
    assert abs(incident.location.x - 10.2108) < 1e-6
    assert abs(incident.location.y - 56.1567) < 1e-6
    assert len(callbacks) == 1  # the dispatch task, queued after commit


def test_create_outside_region_is_refused_on_the_field(console):
    # Odense, Region Syddanmark.
    response = console.post(
        reverse("amk:incident_create"), {"location": "55.3959, 10.3883", "address": "Flakhaven 2"}
    )
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["location"])
    assert "Positionen ligger i Region Syddanmark" in errors
    assert "AMK-vagtcentralen i Region Syddanmark" in errors
    assert not Incident.objects.exists()


def test_create_requires_a_location(console):
    response = console.post(reverse("amk:incident_create"), {"address": "Store Torv 1"})
    assert response.status_code == 200
    assert response.context["form"].errors["location"]
    assert not Incident.objects.exists()


def test_create_with_exclusion_keeps_reasons_and_alerts_nobody(console):
    VolunteerFactory.create_batch(3)
    with_reasons = [Incident.Exclusion.CHILD_UNDER_8, Incident.Exclusion.UNSAFE_SCENE]
    response = console.post(
        reverse("amk:incident_create"),
        {"location": "56.1567, 10.2108", "exclusion_reasons": with_reasons},
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert sorted(incident.exclusion_reasons) == sorted(with_reasons)

    waves.incident_dispatch(incident_id=incident.pk)

    incident.refresh_from_db()
    assert not Alert.objects.filter(incident=incident).exists()
    assert incident.state == Incident.State.ACTIVE
    board = console.get(reverse("amk:incident_board", args=[incident.pk])).json()
    assert board["incident"]["exclusion_reasons"]
    assert board["counts"]["alerted"] == 0
    assert board["warnings"] == []


# --- Place search -----------------------------------------------------------------------------


def test_place_search_json(console):
    results = console.get(reverse("amk:place_search"), {"q": "Aarhus"}).json()["results"]
    assert results
    first = results[0]
    assert first["in_service_region"] is True
    assert 55.9 < first["lat"] < 56.4
    assert 9.9 < first["lon"] < 10.5
    postcodes = console.get(reverse("amk:place_search"), {"q": "8000"}).json()["results"]
    assert postcodes[0]["kind"] == "postcode"
    assert postcodes[0]["label"].startswith("8000")
    assert console.get(reverse("amk:place_search"), {"q": " "}).json()["results"] == []


# --- The board --------------------------------------------------------------------------------


def _incident_with_alerts(n: int) -> Incident:
    incident = IncidentFactory()
    Incident.objects.filter(pk=incident.pk).update(
        state=Incident.State.DISPATCHING, dispatch_wave=1, dispatch_radius_m=5000
    )
    for i in range(n):
        alert = AlertFactory(incident=incident, distance_m=100 * (i + 1), state=Alert.State.SENT)
        AlertDeliveryFactory(alert=alert, channel="push", state=AlertDelivery.State.SENT)
        AlertDeliveryFactory(alert=alert, channel="sms", state=AlertDelivery.State.FAILED)
    DefibrillatorFactory.create_batch(3)
    return incident


def test_board_query_count_is_constant(django_assert_max_num_queries):
    small, large = _incident_with_alerts(5), _incident_with_alerts(50)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for incident in (small, large):
        incident_board(incident_id=incident.pk)  # once per process: PostGIS's SRID lookup
        with CaptureQueriesContext(connection) as queries:
            board = incident_board(incident_id=incident.pk)
        counts.append(len(queries))
        with django_assert_max_num_queries(10):
            incident_board(incident_id=incident.pk)
    assert counts[0] == counts[1] <= 10
    assert len(board["alerts"]) == 50


def test_board_json_query_count_does_not_grow_with_alerts(console):
    """Through the view, as the console polls it: the session and user lookups included."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for n in (5, 50):
        url = reverse("amk:incident_board", args=[_incident_with_alerts(n).pk])
        console.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = console.get(url)
        assert len(response.json()["alerts"]) == n
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 11  # 10, and which of the AEDs around are in use


# The fields the console's script and page read (amk/static/amk/incident_board.js): the board's
# payload is its contract, so a field that goes or a new one is a deliberate change.
BOARD_KEYS = {
    "generated_at",
    "incident",
    "policy",
    "counts",
    "warnings",
    "alerts",
    "aeds",
    "events",
}
INCIDENT_KEYS = {
    "id",
    "state",
    "state_label",
    "is_open",
    "address",
    "municipality",
    "note",
    "location",
    "wave",
    "wave_label",
    "extra_wave",
    "can_request_wave",
    "radius_m",
    "created_at",
    "created_local",
    "age_s",
    "closed_at",
    "closed_local",
    "exclusion_reasons",
}
COUNT_KEYS = {
    "alerted",
    "waiting",
    "sent",
    "delivered",
    "accepted",
    "declined",
    "failed",
    "on_the_way",
    "on_scene",
    "responding",
    "expired",
}
ALERT_KEYS = {
    "id",
    "label",
    "display_name",
    "counted",
    "accepted",
    "can_stand_down",
    "can_set_role",
    "role_by_dispatcher",
    "arrival_min",
    "aed_id",
    "state",
    "state_label",
    "responding",
    "role",
    "role_label",
    "pool",
    "pool_label",
    "wave",
    "distance_m",
    "aed",
    "updated_at",
    "updated_local",
    "deliveries",
    "name",
    "phone",
    "position",
    "position_source",
}
DELIVERY_KEYS = {
    "channel",
    "channel_label",
    "kind",
    "kind_label",
    "state",
    "state_label",
    "error",
    "attempts",
}
AED_KEYS = {
    "id",
    "name",
    "address",
    "placement",
    "opening_hours",
    "location",
    "distance_m",
    "availability",
    "claimed",
    "access",
    "expired",
    "expires_soon",
    "next_expiry",
    "synthetic",
}
EVENT_KEYS = {
    "time",
    "time_local",
    "first_time_local",
    "kind",
    "message",
    "members",
    "count",
    "highlight",
    "actor",
}


def test_board_payload_shape_and_labels(console):
    incident = _incident_with_alerts(2)
    actor = UserFactory(first_name="Dorte", last_name="Hansen")
    IncidentEvent.objects.create(incident=incident, kind="note", message="a", actor=actor)
    IncidentEvent.objects.create(incident=incident, kind="note", message="b")

    board = console.get(reverse("amk:incident_board", args=[incident.pk])).json()

    assert set(board) == BOARD_KEYS
    assert set(board["incident"]) == INCIDENT_KEYS
    assert set(board["policy"]) == {
        "mode",
        "target_accepted",
        "escalate_after_s",
        "max_waves",
        "max_radius_m",
        "outstanding_target",
        "alert_valid_s",
        "auto_close_after_s",
    }
    assert set(board["counts"]) == COUNT_KEYS
    assert all(set(a) == ALERT_KEYS for a in board["alerts"])
    deliveries = [d for a in board["alerts"] for d in a["deliveries"]]
    assert len(deliveries) == 4
    assert all(set(d) == DELIVERY_KEYS for d in deliveries)
    assert board["aeds"]
    assert all(set(a) == AED_KEYS for a in board["aeds"])
    assert [set(e) for e in board["events"]] == [EVENT_KEYS, EVENT_KEYS]
    # Labels in the dispatcher's language (Danish by default), as Django's get_*_display().
    alert = Alert.objects.get(pk=board["alerts"][0]["id"])
    assert board["alerts"][0]["state_label"] == alert.get_state_display() == "Sendt"
    assert board["alerts"][0]["pool_label"] == alert.get_pool_display()
    delivery = alert.deliveries.get(channel="sms")
    sms = next(d for d in board["alerts"][0]["deliveries"] if d["channel"] == "sms")
    assert sms["state_label"] == delivery.get_state_display()
    assert sms["error"] == delivery.last_error  # failed: the provider's reason is shown
    assert [e["actor"] for e in board["events"]] == ["", "Dorte Hansen"]


def test_board_json_content(console):
    DispatchPolicyFactory(target_accepted=3, escalate_after_s=30)
    incident = IncidentFactory(note="Kvinde, 70 år")
    Incident.objects.filter(pk=incident.pk).update(
        state=Incident.State.DISPATCHING,
        dispatch_wave=1,
        dispatch_radius_m=5000,
        created_at=timezone.now() - dt.timedelta(seconds=90),
    )
    aed = DefibrillatorFactory(name="Hjertestarter Domkirken")
    closed_aed = DefibrillatorFactory(name="Kontor", opening_hours="Mo-Fr 00:00-00:01")
    DefibrillatorFactory(name="Langt væk", location=point(10.5, 56.4))
    runner = VolunteerFactory(user__first_name="Mette", phone="+4520123456")
    accepted = AlertFactory(
        incident=incident,
        volunteer=runner,
        state=Alert.State.ACCEPTED,
        role=Alert.Role.AED,
        aed=aed,
        distance_m=450,
    )
    AlertDeliveryFactory(alert=accepted, channel="push", state=AlertDelivery.State.DELIVERED)
    waiting = AlertFactory(
        incident=incident, volunteer__user__first_name="Hemmelig", distance_m=900
    )
    AlertDeliveryFactory(
        alert=waiting, channel="sms", state=AlertDelivery.State.FAILED, last_error="21211 bad"
    )
    AlertFactory(incident=incident, state=Alert.State.DECLINED, distance_m=1200)
    IncidentEvent.objects.create(incident=incident, kind="note", message="Ring til 112")

    board = console.get(reverse("amk:incident_board", args=[incident.pk])).json()

    assert board["incident"]["state"] == "dispatching"
    assert board["incident"]["wave"] == 1
    assert board["incident"]["radius_m"] == 5000
    assert board["incident"]["municipality"] == "Aarhus"
    assert board["counts"] | {} == board["counts"]
    counts = board["counts"]
    assert (counts["alerted"], counts["accepted"], counts["declined"]) == (3, 1, 1)
    # Accepted, not yet reported under way: not "on the way" (its row says "Accepteret").
    assert (counts["delivered"], counts["on_the_way"], counts["on_scene"]) == (1, 0, 0)
    first = board["alerts"][0]
    assert first["id"] == accepted.pk
    assert first["responding"]
    assert (first["name"], first["phone"]) == ("Mette", "+4520123456")
    assert first["role"] == "aed"
    assert first["aed"] == "Hjertestarter Domkirken"
    assert first["position"] == [AARHUS_C[1], AARHUS_C[0]]
    assert first["position_source"] == "live"
    others = board["alerts"][1:]
    assert all(a["name"] == "" and a["phone"] == "" and a["position"] is None for a in others)
    assert "Hemmelig" not in str(board)
    assert str(waiting.volunteer.phone) not in str(board)  # only responders' numbers
    assert others[0]["deliveries"][0]["error"] == "21211 bad"
    assert others[0]["label"].endswith(f"#{waiting.volunteer_id}")
    availability = {a["name"]: (a["availability"], a["claimed"]) for a in board["aeds"]}
    assert availability == {
        "Hjertestarter Domkirken": ("available", True),
        "Kontor": ("closed", False),
    }
    assert closed_aed.cabinet_code not in {str(v) for a in board["aeds"] for v in a.values()}
    assert board["events"][0]["message"] == "Ring til 112"
    # 1 of 3 accepted after 90 s (escalation after 30 s, target 3): the dispatcher is warned,
    # with the numbers the header shows.
    assert len(board["warnings"]) == 1
    assert re.fullmatch(
        r"Kun 1 af de 3 alarmerede frivillige har accepteret efter 1 min 3\d s \(mål: 3\)\.",
        board["warnings"][0],
    ), board["warnings"][0]


def test_responder_position_falls_back_to_the_alert_snapshot():
    incident = IncidentFactory()
    stale = VolunteerFactory(location_updated_at=timezone.now() - dt.timedelta(hours=3))
    AlertFactory(
        incident=incident,
        volunteer=stale,
        state=Alert.State.EN_ROUTE,
        role=Alert.Role.CPR,
        volunteer_location=point(10.2, 56.15),
    )
    row = incident_board(incident_id=incident.pk)["alerts"][0]
    assert row["position"] == [56.15, 10.2]
    assert row["position_source"] == "alert"


def test_incident_page_renders_the_board(console):
    incident = _incident_with_alerts(2)
    response = console.get(reverse("amk:incident_detail", args=[incident.pk]))
    html = response.content.decode()
    assert 'id="board-data"' in html
    assert reverse("amk:incident_board", args=[incident.pk]) in html
    assert reverse("amk:incident_cancel", args=[incident.pk]) in html
    assert console.get(reverse("amk:incident_detail", args=[999999])).status_code == 404
    assert console.get(reverse("amk:incident_board", args=[999999])).status_code == 404


def test_ended_incident_page_is_read_only(console):
    incident = IncidentFactory()
    incident_cancel(incident_id=incident.pk, actor=None)
    html = console.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()
    assert reverse("amk:incident_cancel", args=[incident.pk]) not in html
    assert reverse("amk:incident_note", args=[incident.pk]) not in html


# --- Actions ----------------------------------------------------------------------------------


def test_cancel_stands_everyone_down(console, dispatcher):
    incident = _incident_with_alerts(2)
    response = console.post(reverse("amk:incident_cancel", args=[incident.pk]), follow=True)
    incident.refresh_from_db()
    assert incident.state == Incident.State.CANCELLED
    assert set(incident.alerts.values_list("state", flat=True)) == {Alert.State.CANCELLED}
    assert IncidentEvent.objects.filter(incident=incident, kind="cancelled", actor=dispatcher)
    assert [str(m) for m in response.context["messages"]]

    again = console.post(reverse("amk:incident_cancel", args=[incident.pk]), follow=True)
    assert any("allerede afsluttet" in str(m) for m in again.context["messages"])


def test_close_releases_volunteers(console):
    incident = _incident_with_alerts(1)
    console.post(reverse("amk:incident_close", args=[incident.pk]))
    incident.refresh_from_db()
    assert incident.state == Incident.State.CLOSED
    assert set(incident.alerts.values_list("state", flat=True)) == {Alert.State.RELEASED}


def test_note_is_added_to_the_timeline(console, dispatcher):
    incident = IncidentFactory()
    console.post(reverse("amk:incident_note", args=[incident.pk]), {"text": "  Ambulance 4 min "})
    event = IncidentEvent.objects.get(incident=incident, kind="note")
    assert (event.message, event.actor) == ("Ambulance 4 min", dispatcher)
    response = console.post(
        reverse("amk:incident_note", args=[incident.pk]), {"text": ""}, follow=True
    )
    assert any("Notatet er tomt" in str(m) for m in response.context["messages"])


def test_next_wave_now(console, dispatcher, django_capture_on_commit_callbacks):
    incident = IncidentFactory()
    VolunteerFactory(location=point(AARHUS_C[0], AARHUS_C[1] + 0.06))  # about 6.7 km north
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=incident.pk)
    incident.refresh_from_db()
    assert (incident.state, incident.dispatch_wave) == (Incident.State.DISPATCHING, 1)
    assert not incident.alerts.exists()

    with django_capture_on_commit_callbacks(execute=False):
        response = console.post(reverse("amk:incident_escalate", args=[incident.pk]), follow=True)
    incident.refresh_from_db()
    assert incident.dispatch_wave == 2
    assert incident.alerts.count() == 1
    assert IncidentEvent.objects.filter(incident=incident, kind="wave_requested", actor=dispatcher)
    assert any("bølge" in str(m).lower() for m in response.context["messages"])


def test_next_wave_refused_when_not_dispatching(console):
    incident = IncidentFactory()
    response = console.post(reverse("amk:incident_escalate", args=[incident.pk]), follow=True)
    incident.refresh_from_db()
    assert incident.dispatch_wave == 0
    assert [m.level_tag for m in response.context["messages"]] == ["error"]


def test_actions_need_post(console):
    incident = IncidentFactory()
    assert console.get(reverse("amk:incident_cancel", args=[incident.pk])).status_code == 405
    assert console.post(reverse("amk:incident_cancel", args=[999999])).status_code == 404
