import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from amk.models import AccessAddress, Place
from defibrillators.models import Defibrillator
from volunteers.models import LocalArea, Volunteer

pytestmark = pytest.mark.django_db


def test_seed_demo_sets_everything_up_once(monkeypatch):
    monkeypatch.setenv("DEMO_DISPATCHER_PASSWORD", "disponent-hemmelig")
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO())
    assert "dispatcher / disponent-hemmelig" in out.getvalue()
    assert "admin / hjertealarm-demo" in out.getvalue()
    counts = (
        get_user_model().objects.count(),
        Volunteer.objects.count(),
        Defibrillator.objects.count(),
        LocalArea.objects.count(),
        Place.objects.count(),
    )
    # The gazetteer's places and three landmarks (data/addresses/landmarks.geojson).
    assert counts[1:] == (12_000 + 32 * 15, 5_000 + 32, 32, 6871 + 3)
    assert AccessAddress.objects.filter(synthetic=True).count() == 60_000
    assert AccessAddress.objects.filter(synthetic=False).count() == 8
    dispatcher = authenticate(username="dispatcher", password="disponent-hemmelig")
    assert dispatcher.groups.filter(name="Dispatchers").exists()
    assert not dispatcher.is_staff
    admin = authenticate(username="admin", password="hjertealarm-demo")
    assert admin.is_superuser
    assert admin.is_staff

    again = io.StringIO()
    call_command("seed_demo", stdout=again, stderr=io.StringIO())
    assert "synthetic volunteers: created 0, updated 0, unchanged 12480" in again.getvalue()
    assert (
        get_user_model().objects.count(),
        Volunteer.objects.count(),
        Defibrillator.objects.count(),
        LocalArea.objects.count(),
        Place.objects.count(),
    ) == counts
    assert AccessAddress.objects.count() == 60_008
