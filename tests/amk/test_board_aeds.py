"""The board's AED layer (amk.console.board through defibrillators.selectors.aeds_near): expired
AEDs flagged, those expiring soon marked, those in use elsewhere shown as such; and the admin's
expiry flag and filters."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from amk.access import DISPATCHERS_GROUP
from amk.console.board import incident_board
from defibrillators.availability import aed_is_available
from defibrillators.models import Defibrillator
from tests.alerts.aeds import accept, days, incident, new_incident, north, responder
from tests.factories import DefibrillatorFactory, UserFactory

pytestmark = pytest.mark.usefixtures("reference_geography")
__all__ = ["incident"]  # the fixture, used by name


def board_aeds(incident) -> dict[str, dict]:
    return {aed["name"]: aed for aed in incident_board(incident_id=incident.pk)["aeds"]}


def test_the_board_flags_expired_and_soon_expiring_aeds(incident):
    DefibrillatorFactory(name="Udløbet", location=north(300), pads_expire_on=days(-1))
    DefibrillatorFactory(name="Snart", location=north(400), battery_expires_on=days(12))
    DefibrillatorFactory(name="Fin", location=north(500), battery_expires_on=days(400))

    aeds = board_aeds(incident)

    expired, soon, fine = aeds["Udløbet"], aeds["Snart"], aeds["Fin"]
    assert (expired["availability"], expired["expired"], expired["expires_soon"]) == (
        "expired",
        True,
        False,
    )
    assert expired["next_expiry"] == days(-1).isoformat()
    assert (soon["availability"], soon["expired"], soon["expires_soon"]) == (
        "available",
        False,
        True,
    )
    assert (fine["expired"], fine["expires_soon"], fine["access"]) == (False, False, "public")


def test_the_board_shows_an_aed_in_use_elsewhere_and_one_claimed_here(incident):
    out = DefibrillatorFactory(name="Ude", location=north(500))
    assert accept(responder(new_incident())).aed == out  # for another incident, not back yet
    claimed_here = DefibrillatorFactory(name="Hentes", location=north(600))
    assert accept(responder(incident)).aed == claimed_here

    aeds = board_aeds(incident)

    assert (aeds["Ude"]["availability"], aeds["Ude"]["claimed"]) == ("in_use", False)
    assert (aeds["Hentes"]["availability"], aeds["Hentes"]["claimed"]) == ("available", True)


def test_the_console_page_has_the_words_for_the_new_states(client, incident):
    user = UserFactory()
    user.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    client.force_login(user)

    page = client.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()

    for key in ('"expired":', '"in_use":', '"expiredOn":', '"expiresOn":'):
        assert key in page


def test_an_expired_aed_is_not_available_to_the_app_either():
    aed = Defibrillator(opening_hours="24/7", pads_expire_on=days(-1))

    assert not aed_is_available(aed, timezone.now())
    aed.pads_expire_on = days(0)
    assert aed_is_available(aed, timezone.now())


def test_the_admin_list_flags_expiry_and_filters_by_it(client):
    DefibrillatorFactory(name="Udløbet", pads_expire_on=days(-3))
    DefibrillatorFactory(name="Snart", battery_expires_on=days(29))
    DefibrillatorFactory(name="Senere", battery_expires_on=days(45))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:defibrillators_defibrillator_changelist")

    page = client.get(url).content.decode()
    assert "⚑" in page
    assert 'color:#b3261e">⚑' in page

    def names(expiry: str) -> set[str]:
        listed = client.get(url, {"expiry": expiry}).content.decode()
        return {name for name in ("Udløbet", "Snart", "Senere") if name in listed}

    assert names("expired") == {"Udløbet"}
    assert names("soon") == {"Snart"}
