import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F
from django.utils import timezone

from defibrillators.models import Defibrillator
from tests.factories import VolunteerFactory
from volunteers.models import LocalArea, Volunteer
from volunteers.services.synthetic import synthetic_phone

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reference_geography")]

SMALL = ("--volunteers", "500", "--aeds", "200", "--corps-per-area", "3")


@pytest.fixture
def local_areas(reference_geography):
    call_command("load_local_areas", verbosity=0)


def generate(*args: str) -> str:
    out = io.StringIO()
    call_command("generate_demo_data", *args, stdout=out, stderr=out)
    return out.getvalue()


def digest() -> tuple[str, str]:
    """A fingerprint of every synthetic row, without the wall-clock times."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT md5(string_agg(concat_ws('|', u.username, u.first_name, u.last_name,
                       u.password, u.date_joined, v.phone, v.date_of_birth, v.is_available,
                       v.phone_verified_at, v.first_aid_course_on, v.is_heart_runner, a.name,
                       ST_AsText(v.location), v.location_accuracy_m,
                       v.location_updated_at IS NULL), ',' ORDER BY u.username))
            FROM volunteers_volunteer v JOIN auth_user u ON u.id = v.user_id
            LEFT JOIN volunteers_localarea a ON a.id = v.local_area_id
            WHERE v.synthetic
            """
        )
        (volunteers,) = cursor.fetchone()
        cursor.execute(
            """
            SELECT md5(string_agg(concat_ws('|', source_id, name, ST_AsText(location), address,
                       placement, indoor, floor, access, opening_hours, cabinet_code, status,
                       battery_expires_on, pads_expire_on, owner_name), ',' ORDER BY source_id))
            FROM defibrillators_defibrillator WHERE synthetic
            """
        )
        (aeds,) = cursor.fetchone()
    return volunteers, aeds


@pytest.mark.usefixtures("local_areas")
def test_generates_the_requested_population():
    output = generate(*SMALL)
    assert "synthetic volunteers: created 596, updated 0, unchanged 0, skipped 0" in output
    assert "synthetic AEDs: created 200" in output
    assert "corps AEDs: created 32" in output
    volunteers = Volunteer.objects.filter(synthetic=True)
    assert volunteers.filter(local_area__isnull=True, is_heart_runner=True).count() == 500
    assert volunteers.count() == 596
    assert get_user_model().objects.get(username="demo-v0000001").volunteer.synthetic
    assert not get_user_model().objects.get(username="demo-v0000500").has_usable_password()
    assert volunteers.filter(phone__regex=r"^\+453[0-9]{7}$").count() == 596
    assert 0.78 < volunteers.filter(is_available=True).count() / 596 < 0.92
    assert 0.72 < volunteers.exclude(phone_verified_at=None).count() / 596 < 0.88
    fresh = volunteers.filter(location_updated_at__gte=timezone.now() - dt.timedelta(minutes=6))
    located = volunteers.exclude(location=None)
    assert 0.18 < fresh.count() / 596 < 0.32
    assert 0.42 < located.count() / 596 < 0.58
    assert all(5 <= v.location_accuracy_m <= 50 for v in fresh)
    oldest_birth = dt.date(timezone.localdate().year - 75, 1, 1)  # 75 years before this year
    assert not volunteers.filter(date_of_birth__lt=oldest_birth).exists()


@pytest.mark.usefixtures("local_areas")
def test_volunteers_live_in_the_region_in_proportion_to_population():
    generate("--volunteers", "2000", "--aeds", "0", "--corps-per-area", "0")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT m.code, count(*) FROM volunteers_volunteer v
            JOIN amk_municipality m ON ST_Intersects(m.area, v.location::geometry)
            WHERE v.synthetic AND m.region_id = '1082' GROUP BY m.code
            """
        )
        by_municipality = dict(cursor.fetchall())
    located = Volunteer.objects.filter(synthetic=True).exclude(location=None).count()
    assert sum(by_municipality.values()) > 0.9 * located  # a few jitter into the sea
    # Aarhus has 26 % of the region's people, Samsø 0.3 %.
    assert 0.2 < by_municipality["0751"] / located < 0.32
    assert by_municipality.get("0741", 0) < 0.02 * located


@pytest.mark.usefixtures("local_areas")
def test_every_local_area_gets_corps_members_and_its_own_aed():
    generate(*SMALL)
    for area in LocalArea.objects.prefetch_related("members", "local_aeds"):
        members = list(area.members.all())
        assert len(members) == 3, area.name
        assert all(m.synthetic for m in members)
        assert all(area.area.contains(m.location) for m in members if m.location), area.name
        (aed,) = area.local_aeds.all()
        assert aed.synthetic
        assert aed.location == area.village_point
    corps = Volunteer.objects.filter(local_area__isnull=False)
    assert corps.filter(is_heart_runner=True).exists()
    assert corps.filter(is_heart_runner=False).exists()


@pytest.mark.usefixtures("local_areas")
def test_synthetic_aeds_look_real_and_are_marked():
    generate(*SMALL)
    aeds = Defibrillator.objects.filter(source_id__startswith="demo-aed-")
    assert aeds.count() == 200
    assert aeds.filter(synthetic=True, source="synthetic").count() == 200
    assert 0.56 < aeds.filter(opening_hours="24/7").count() / 200 < 0.77
    assert aeds.exclude(opening_hours="24/7").filter(indoor=True).count() > 40
    assert aeds.filter(status="inactive").count() < 20
    assert aeds.exclude(cabinet_code="").exists()
    assert aeds.exclude(battery_expires_on=None).exists()
    assert all(a.name.startswith("Hjertestarter (syntetisk) – ") for a in aeds)


@pytest.mark.usefixtures("local_areas")
def test_same_seed_gives_identical_rows_and_another_seed_does_not():
    generate(*SMALL)
    first = digest()
    assert "created 596" in generate(*SMALL, "--replace")
    assert digest() == first
    generate(*SMALL, "--seed", "7", "--replace")
    other = digest()
    assert other[0] != first[0]
    assert other[1] != first[1]


@pytest.mark.usefixtures("local_areas")
def test_rerun_is_idempotent_and_sizes_can_grow():
    generate(*SMALL)
    users = get_user_model().objects.count()
    rerun = generate(*SMALL)
    assert "synthetic volunteers: created 0, updated 0, unchanged 596" in rerun
    assert "synthetic AEDs: created 0, updated 0, unchanged 200" in rerun
    assert get_user_model().objects.count() == users
    small = digest()
    generate("--volunteers", "600", "--aeds", "250", "--corps-per-area", "3")
    assert Volunteer.objects.filter(synthetic=True).count() == 696
    # Growing adds exactly what a fresh run at the larger size would have.
    generate("--volunteers", "600", "--aeds", "250", "--corps-per-area", "3", "--replace")
    grown = digest()
    assert grown != small
    shrink = generate(*SMALL)
    assert "Kept 100 synthetic volunteers beyond the requested size" in shrink
    assert "Kept 50 synthetic AEDs beyond the requested size" in shrink
    assert digest() == grown


@pytest.mark.usefixtures("local_areas")
def test_another_seed_on_existing_data_needs_replace():
    generate(*SMALL)
    with pytest.raises(CommandError, match="another seed than 7"):
        generate(*SMALL, "--seed", "7")


@pytest.mark.usefixtures("local_areas")
def test_a_later_run_makes_the_fresh_quarter_fresh_again():
    generate(*SMALL)
    synthetic = Volunteer.objects.filter(synthetic=True).exclude(location=None)
    ages = {v.pk: v.location_updated_at for v in synthetic}
    synthetic.update(location_updated_at=F("location_updated_at") - dt.timedelta(days=3))
    generate(*SMALL)
    now = timezone.now()
    refreshed = {v.pk: v.location_updated_at for v in synthetic}
    assert max(refreshed.values()) > now - dt.timedelta(seconds=30)
    fresh = [pk for pk, at in refreshed.items() if at > now - dt.timedelta(minutes=6)]
    assert len(fresh) == len([pk for pk, at in ages.items() if at > now - dt.timedelta(minutes=6)])
    assert min(refreshed.values()) < now - dt.timedelta(hours=1)  # the stale stay stale


def test_corps_members_need_the_local_areas():
    with pytest.raises(CommandError, match="run load_local_areas first"):
        generate(*SMALL)


@pytest.mark.usefixtures("local_areas")
def test_a_phone_number_taken_by_a_real_volunteer_is_skipped():
    VolunteerFactory(phone=synthetic_phone(7))
    output = generate(*SMALL)
    assert "demo-v0000007: phone number already in use" in output
    assert "created 595, updated 0, unchanged 0, skipped 1" in output
