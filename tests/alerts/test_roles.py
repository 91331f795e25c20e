"""Roles by time (alerts.services.roles): the first to reach the patient starts CPR, an AED is
fetched by whoever brings it soonest, the roles are worked out again when someone withdraws,
and the dispatcher can set a role. Private and expired AEDs: tests/alerts/test_aed_choice.py
(test_a_private_aed_is_never_assigned_to_a_stranger, test_an_expired_aed_is_never_assigned)."""

import math

import pytest

from alerts.models import Alert, AlertDelivery
from alerts.services import answers
from alerts.services.roles import alert_role_set
from amk.models import IncidentEvent
from tests.alerts.aeds import METRES_PER_DEGREE_LAT, accept
from tests.factories import (
    AARHUS_C,
    AlertFactory,
    DefibrillatorFactory,
    IncidentFactory,
    UserFactory,
    VolunteerFactory,
    point,
)

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")

METRES_PER_DEGREE_LON = METRES_PER_DEGREE_LAT * math.cos(math.radians(AARHUS_C[1]))


def at(east: float, north: float):
    return point(
        AARHUS_C[0] + east / METRES_PER_DEGREE_LON, AARHUS_C[1] + north / METRES_PER_DEGREE_LAT
    )


@pytest.fixture
def scene(db):
    """Three alerted: 300 m north, 1 km east, 1 km west; an AED 200 m off the east one's line."""
    incident = IncidentFactory(state="dispatching", dispatch_wave=1, dispatch_radius_m=5000)
    aed = DefibrillatorFactory(location=at(500, 200), cabinet_code="1234", name="Hallen")
    near, east, west = (
        AlertFactory(incident=incident, volunteer=VolunteerFactory(location=at(x, y)), state="sent")
        for x, y in ((0, 300), (1000, 0), (-1000, 0))
    )
    return incident, aed, near, east, west


def roles(*alerts):
    return [
        (a.role, a.aed_id)
        for a in Alert.objects.filter(pk__in=[x.pk for x in alerts]).order_by("pk")
    ]


def test_the_nearest_goes_direct_and_the_second_fetches_the_aed(scene):
    _incident, aed, near, east, west = scene
    for alert in (east, west, near):  # the nearest accepts last: the roles follow time, not order
        accept(alert)

    assert roles(near, east, west) == [("cpr", None), ("aed", aed.pk), ("cpr", None)]
    near.refresh_from_db()
    east.refresh_from_db()
    assert near.arrival_estimated_at < east.arrival_estimated_at


def test_the_direct_one_withdraws_roles_recomputed_and_the_volunteers_told(scene):
    incident, aed, near, east, west = scene
    for alert in (near, east, west):
        accept(alert)
    assert roles(near, east, west) == [("cpr", None), ("aed", aed.pk), ("cpr", None)]

    answers.alert_withdraw(alert_id=near.pk, volunteer=near.volunteer)

    # East is now first to the patient (1 km; west as far, accepted later) and goes straight
    # there; west via the AED: 1.51 + 0.54 km x 1.3 / 2.3 m/s = 1160 s > 720 s: direct too.
    assert roles(east, west) == [("cpr", None), ("cpr", None)]
    told = AlertDelivery.objects.filter(kind=AlertDelivery.Kind.ROLE)
    assert set(told.values_list("alert_id", "channel")) == {(east.pk, "sms")}
    assert IncidentEvent.objects.filter(incident=incident, kind="role_changed", alert=east).exists()
    assert not aed.uses.filter(ended_at__isnull=True).exists()  # free again


def test_a_dispatcher_override_is_kept_and_told(scene):
    incident, aed, near, east, west = scene
    for alert in (near, east, west):
        accept(alert)
    dispatcher = UserFactory()

    alert_role_set(alert_id=west.pk, role="aed", aed_id=aed.pk, actor=dispatcher)

    assert roles(east, west) == [("cpr", None), ("aed", aed.pk)]
    assert AlertDelivery.objects.filter(alert=west, kind="role", channel="sms").exists()
    assert IncidentEvent.objects.filter(incident=incident, actor=dispatcher, alert=west).exists()
    answers.alert_withdraw(alert_id=near.pk, volunteer=near.volunteer)  # a recompute
    assert roles(west) == [("aed", aed.pk)]


def test_the_board_shows_roles_and_arrivals_and_the_dispatcher_changes_a_role(scene, client):
    from django.contrib.auth.models import Group
    from django.urls import reverse

    from amk.access import DISPATCHERS_GROUP

    incident, aed, near, east, _west = scene
    for alert in (near, east):
        accept(alert)
    dispatcher = UserFactory(username="disponent")
    dispatcher.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    client.force_login(dispatcher)

    page = client.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()
    board = client.get(reverse("amk:incident_board", args=[incident.pk])).json()
    arrivals = {a["id"]: a["arrival_min"] for a in board["alerts"]}
    # 300 m x 1.3 / 2.3 m/s = 170 s: 3 min; east via the AED: 609 s: 11 min.
    assert arrivals[near.pk] == 3
    assert arrivals[east.pk] == 11
    assert "om ca. 3 min" in page
    assert "Skift rolle" in page

    url = reverse("amk:alert_role_set", args=[incident.pk, east.pk])
    assert client.post(url, {"role_aed": "bogus"}).status_code == 302
    assert roles(east) == [("aed", aed.pk)]  # refused with a message, nothing changed
    client.post(url, {"role_aed": "cpr"})
    assert roles(east) == [("cpr", None)]
    other = reverse("amk:alert_role_set", args=[incident.pk + 1000, east.pk])
    assert client.post(other, {"role_aed": "cpr"}).status_code == 404
    client.logout()
    assert client.post(url, {"role_aed": "cpr"}).status_code == 302  # to the login page
