"""Which AED a responder is sent for (alerts.selectors.aeds through alert_accept): only one that
can really be used: active, accessible to this responder, battery and pads not expired, not in
use since an earlier incident, open now."""

import threading

import pytest
from django.db import connections

from alerts.models import AedUse, Alert
from alerts.services import aed_uses
from tests.alerts.aeds import accept, days, incident, new_incident, north, open_use, progress
from tests.alerts.aeds import responder as make_responder
from tests.factories import DefibrillatorFactory, LocalAreaFactory, UserFactory, VolunteerFactory

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")
__all__ = ["incident"]  # the fixture, used by name


def test_a_public_aed_on_the_way_is_fetched_and_is_then_in_use(incident):
    aed = DefibrillatorFactory(location=north(500))
    alert = accept(make_responder(incident))

    assert (alert.role, alert.aed) == (Alert.Role.AED, aed)
    use = open_use(aed)
    assert (use.alert_id, use.collected_at, use.ending) == (alert.pk, None, "")


@pytest.mark.parametrize(
    "expiry",
    [{"battery_expires_on": days(-1)}, {"pads_expire_on": days(-30)}],
    ids=["battery-expired", "pads-expired"],
)
def test_an_expired_aed_is_never_assigned(incident, expiry):
    DefibrillatorFactory(location=north(500), **expiry)

    assert accept(make_responder(incident)).role == Alert.Role.CPR


def test_an_aed_expiring_today_or_later_is_still_assigned(incident):
    aed = DefibrillatorFactory(
        location=north(500), battery_expires_on=days(0), pads_expire_on=days(3)
    )

    assert accept(make_responder(incident)).aed == aed


def test_a_private_aed_is_never_assigned_to_a_stranger(incident):
    private = DefibrillatorFactory(location=north(500), access="private")
    other_corps = LocalAreaFactory()
    other_corps.local_aeds.add(DefibrillatorFactory(location=north(5000)))
    stranger = VolunteerFactory(location=north(1000), local_area=other_corps)

    assert accept(make_responder(incident, volunteer=stranger)).role == Alert.Role.CPR
    assert open_use(private) is None


def test_a_private_aed_is_assigned_to_a_member_of_its_corps_even_from_the_app_pool(incident):
    private = DefibrillatorFactory(location=north(500), access="private")
    corps = LocalAreaFactory()
    corps.local_aeds.add(private)
    member = VolunteerFactory(location=north(1000), local_area=corps)

    assert accept(make_responder(incident, volunteer=member, pool="app")).aed == private


@pytest.mark.parametrize(
    ("contact", "owner"),
    [("+4540112233", ""), ("", "+45 40 11 22 33"), ("", "40112233")],
    ids=["contact", "owner-e164-spaced", "owner-local"],
)
def test_a_private_aed_is_assigned_to_its_owner(incident, contact, owner):
    private = DefibrillatorFactory(
        location=north(500), access="private", contact_phone=contact, owner_phone=owner
    )
    owner_volunteer = VolunteerFactory(location=north(1000), phone="+4540112233")

    assert accept(make_responder(incident, volunteer=owner_volunteer)).aed == private


def test_a_restricted_aed_only_while_open(incident):
    DefibrillatorFactory(location=north(400), access="restricted", opening_hours="off")
    open_one = DefibrillatorFactory(location=north(500), access="restricted", opening_hours="24/7")

    assert accept(make_responder(incident)).aed == open_one


def test_an_aed_in_use_is_not_assigned_to_the_next_incident_until_it_is_returned(incident):
    aed = DefibrillatorFactory(location=north(500))
    first = accept(make_responder(incident))
    assert first.aed == aed
    progress(first, "aed_collected")
    progress(first, "released")  # finished: the AED went with the patient

    second_incident = new_incident()
    assert accept(make_responder(second_incident)).role == Alert.Role.CPR
    assert open_use(aed).alert_id == first.pk

    aed_uses.aeds_return_by_admin(aed_ids=[aed.pk], user=UserFactory())

    third_incident = new_incident()
    assert accept(make_responder(third_incident)).aed == aed


def test_an_aed_given_up_before_it_was_collected_is_not_taken_and_free_again(incident):
    aed = DefibrillatorFactory(location=north(500))
    first = accept(make_responder(incident))
    progress(first, "released")  # withdraws before collecting it

    ended = AedUse.objects.get(alert=first)
    assert (ended.ending, ended.ended_via) == (AedUse.Ending.NOT_TAKEN, AedUse.Via.DISPATCH)
    assert accept(make_responder(incident, 1100)).aed == aed  # same incident
    assert open_use(aed) is not None


def test_an_aed_collected_stays_in_use_when_its_fetcher_withdraws(incident):
    aed = DefibrillatorFactory(location=north(500))
    first = accept(make_responder(incident))
    progress(first, "aed_collected")
    progress(first, "released")

    use = open_use(aed)
    assert use is not None
    assert use.collected_at is not None
    assert accept(make_responder(new_incident())).role == Alert.Role.CPR


def test_an_aed_being_claimed_for_another_incident_is_skipped(incident):
    """Two incidents' answers at once: the AED the other transaction is claiming (its advisory
    lock) is passed over for the next one, instead of both getting it."""
    near = DefibrillatorFactory(location=north(500))
    farther = DefibrillatorFactory(location=north(600))
    held, release = threading.Event(), threading.Event()

    def other_answer():
        with connections["default"].cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x4145, near.pk])
            held.set()
            release.wait(10)
            cursor.execute("ROLLBACK")
        connections.close_all()

    thread = threading.Thread(target=other_answer)
    thread.start()
    try:
        assert held.wait(10)
        chosen = accept(make_responder(incident)).aed
    finally:
        release.set()
        thread.join(10)
    assert chosen == farther


def test_any_move_that_sets_an_alerts_aed_opens_its_use(incident):
    """Whatever assigns the AED (an answer, a dispatcher later), by object or by id."""
    from alerts.services.timeline import alert_move

    aed = DefibrillatorFactory(location=north(500))
    alert = make_responder(incident)

    assert alert_move(
        alert, Alert.State.ACCEPTED, from_states=[Alert.State.SENT], role="aed", aed_id=aed.pk
    )

    assert open_use(aed).alert_id == alert.pk
    assert alert_move(
        alert, Alert.State.EN_ROUTE, from_states=[Alert.State.ACCEPTED], role="", aed=None
    )
    assert open_use(aed) is None
