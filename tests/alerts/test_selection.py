"""Who is alerted: alerts.selectors.dispatch_candidates against real PostGIS."""

import datetime as dt
import math
import zoneinfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from alerts.models import Alert, DispatchPolicy
from alerts.selectors.selection import dispatch_candidates, metres_between
from tests.factories import (
    AARHUS_C,
    AlertFactory,
    IncidentFactory,
    LocalAreaFactory,
    VolunteerFactory,
    point,
    square_around,
)

pytestmark = pytest.mark.usefixtures("reference_geography")

COPENHAGEN = zoneinfo.ZoneInfo("Europe/Copenhagen")
METRES_PER_DEGREE_LAT = 111_320


def north(metres: float):
    """A point this many metres north of Aarhus C."""
    return point(AARHUS_C[0], AARHUS_C[1] + metres / METRES_PER_DEGREE_LAT)


@pytest.fixture
def incident(db):
    return IncidentFactory()


def chosen(incident, *, policy=None, radius_m=None, include_corps=False, now=None):
    policy = policy or DispatchPolicy()
    return dispatch_candidates(
        incident_id=incident.pk,
        point=incident.location,
        policy=policy,
        radius_m=radius_m or policy.radius_m,
        include_corps=include_corps,
        now=now,
    )


def chosen_ids(incident, **kwargs) -> set[int]:
    return {c.volunteer_id for c in chosen(incident, **kwargs)}


def test_an_eligible_volunteer_within_the_radius_is_chosen_with_distance(incident):
    volunteer = VolunteerFactory(location=north(1000))

    [candidate] = chosen(incident)

    assert candidate.volunteer_id == volunteer.pk
    assert candidate.pool == Alert.Pool.APP
    assert 950 <= candidate.distance_m <= 1050
    assert candidate.location.srid == 4326
    assert candidate.location.equals_exact(volunteer.location, tolerance=1e-9)


def test_unavailable_volunteer_is_not_chosen(incident):
    eligible = VolunteerFactory(location=north(500))
    VolunteerFactory(location=north(400), is_available=False)

    assert chosen_ids(incident) == {eligible.pk}


def test_the_database_refuses_a_volunteer_under_18(db):
    today = timezone.localdate()
    seventeen = today - dt.timedelta(days=365 * 17 + 4)
    with pytest.raises(IntegrityError, match="volunteer_is_adult"), transaction.atomic():
        VolunteerFactory(date_of_birth=seventeen)


def test_a_volunteer_who_turned_18_is_chosen(incident):
    today = timezone.localdate()
    try:
        eighteenth_birthday = today.replace(year=today.year - 18)
    except ValueError:  # 29 February
        eighteenth_birthday = today.replace(year=today.year - 18, day=28)
    adult = VolunteerFactory(
        location=north(300), date_of_birth=eighteenth_birthday - dt.timedelta(days=1)
    )

    assert chosen_ids(incident) == {adult.pk}


def test_volunteer_with_unverified_phone_is_not_chosen(incident):
    eligible = VolunteerFactory(location=north(500))
    VolunteerFactory(location=north(400), phone_verified_at=None)

    assert chosen_ids(incident) == {eligible.pk}


def test_volunteer_whose_location_is_older_than_the_policy_allows_is_not_chosen(incident):
    policy = DispatchPolicy(location_max_age_s=600)
    now = timezone.now()
    fresh = VolunteerFactory(
        location=north(500), location_updated_at=now - dt.timedelta(seconds=590)
    )
    VolunteerFactory(location=north(400), location_updated_at=now - dt.timedelta(seconds=610))

    assert chosen_ids(incident, policy=policy, now=now) == {fresh.pk}


def test_volunteer_without_a_location_is_not_chosen(incident):
    eligible = VolunteerFactory(location=north(500))
    VolunteerFactory(location=None, location_updated_at=None)

    assert chosen_ids(incident) == {eligible.pk}


def test_volunteer_outside_the_radius_is_not_chosen(incident):
    inside = VolunteerFactory(location=north(4_900))
    outside = VolunteerFactory(location=north(5_100))

    assert chosen_ids(incident, radius_m=5_000) == {inside.pk}
    assert chosen_ids(incident, radius_m=5_500) == {inside.pk, outside.pk}


def test_the_radius_is_applied_to_the_distance_on_the_spheroid(incident):
    volunteer = VolunteerFactory(location=north(4_900))
    metres = metres_between(incident.location, volunteer.location)  # ST_Distance, spheroid
    assert metres % 1

    assert chosen_ids(incident, radius_m=math.ceil(metres)) == {volunteer.pk}
    assert chosen_ids(incident, radius_m=math.floor(metres)) == set()


def test_the_distance_shown_is_the_one_on_the_spheroid(incident):
    # 4.9 km north at 56° N: the sphere of the KNN ordering (`<->`) is about 9 m short.
    area = LocalAreaFactory()
    corps = VolunteerFactory(local_area=area, is_heart_runner=False, location=north(4_800))
    app = VolunteerFactory(location=north(4_900))

    distances = {c.volunteer_id: c.distance_m for c in chosen(incident, include_corps=True)}

    assert distances == {
        corps.pk: round(metres_between(incident.location, corps.location)),
        app.pk: round(metres_between(incident.location, app.location)),
    }


def test_repeated_calls_on_one_connection_give_each_wave_its_own_answer(incident):
    # The query is a prepared statement with a cached generic plan (from the sixth call on a
    # connection): alternate waves, radii and wave sizes so a plan or parameter mix-up shows.
    area = LocalAreaFactory()
    corps = VolunteerFactory(
        local_area=area, is_heart_runner=False, location=None, location_updated_at=None
    )
    near = [VolunteerFactory(location=north(300 * (i + 1))) for i in range(3)]
    far = VolunteerFactory(location=north(7_000))
    one_per_wave = DispatchPolicy(app_volunteers_per_wave=1)

    for _ in range(4):
        assert chosen_ids(incident, include_corps=True) == {corps.pk, *(v.pk for v in near)}
        assert chosen_ids(incident, radius_m=8_000) == {far.pk, *(v.pk for v in near)}
        assert chosen_ids(incident, radius_m=700) == {near[0].pk, near[1].pk}
        assert chosen_ids(incident, policy=one_per_wave) == {near[0].pk}
        other = IncidentFactory(location=north(7_100))
        assert chosen_ids(other, radius_m=1_000) == {far.pk}


def test_the_candidate_query_is_planned_once_per_connection(incident):
    VolunteerFactory(location=north(500))
    for include_corps in [False] * 6 + [True] * 2:  # later waves first: the cheaper custom plans
        chosen(incident, include_corps=include_corps)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = %s",
            [f"alerts_candidates_{DispatchPolicy().app_volunteers_per_wave}"],
        )
        generic_plans, custom_plans = cursor.fetchone()
    assert (generic_plans >= 8, custom_plans) == (True, 0)


def test_volunteer_already_alerted_for_the_incident_is_not_chosen_again(incident):
    alerted = VolunteerFactory(location=north(300))
    other = VolunteerFactory(location=north(600))
    AlertFactory(incident=incident, volunteer=alerted)

    assert chosen_ids(incident) == {other.pk}


def test_an_alert_for_another_incident_does_not_exclude_the_volunteer(incident):
    volunteer = VolunteerFactory(location=north(300))
    AlertFactory(incident=IncidentFactory(), volunteer=volunteer)

    assert chosen_ids(incident) == {volunteer.pk}


def test_corps_only_member_is_not_in_the_app_pool(incident):
    elsewhere = LocalAreaFactory(area=square_around(9.0, 56.0))
    VolunteerFactory(location=north(200), is_heart_runner=False, local_area=elsewhere)

    assert chosen(incident) == []


def test_the_nearest_volunteers_are_chosen_first_up_to_the_wave_limit(incident):
    volunteers = [VolunteerFactory(location=north(100 * (i + 1))) for i in range(25)]
    policy = DispatchPolicy()
    assert policy.app_volunteers_per_wave == 20

    candidates = chosen(incident, policy=policy)

    assert [c.volunteer_id for c in candidates] == [v.pk for v in volunteers[:20]]
    distances = [c.distance_m for c in candidates]
    assert distances == sorted(distances)


def test_all_available_corps_members_of_the_local_area_are_chosen_in_the_first_wave(incident):
    area = LocalAreaFactory()
    with_location = VolunteerFactory(local_area=area, location=north(7_000), is_heart_runner=False)
    without_location = VolunteerFactory(
        local_area=area, location=None, location_updated_at=None, phone_verified_at=None
    )
    VolunteerFactory(local_area=area, is_available=False)

    candidates = chosen(incident, include_corps=True)

    corps = {c.volunteer_id: c for c in candidates if c.pool == Alert.Pool.CORPS}
    assert set(corps) == {with_location.pk, without_location.pk}
    assert corps[without_location.pk].location is None
    assert corps[with_location.pk].distance_m > 6_500  # far outside the radius, still chosen


def test_corps_members_are_not_chosen_outside_the_first_wave(incident):
    area = LocalAreaFactory()
    VolunteerFactory(local_area=area, location=None, location_updated_at=None)

    assert chosen(incident, include_corps=False) == []


def test_corps_members_of_another_local_area_are_not_chosen_as_corps(incident):
    LocalAreaFactory()  # the area around the incident, without members
    elsewhere = LocalAreaFactory(area=square_around(9.5, 56.3))
    VolunteerFactory(local_area=elsewhere, location=None, location_updated_at=None)

    assert chosen(incident, include_corps=True) == []


def test_a_person_in_both_pools_is_chosen_once_as_corps(incident):
    area = LocalAreaFactory()
    both = VolunteerFactory(local_area=area, is_heart_runner=True, location=north(200))

    candidates = chosen(incident, include_corps=True)

    assert [(c.volunteer_id, c.pool) for c in candidates] == [(both.pk, Alert.Pool.CORPS)]


def test_the_app_wave_stays_full_when_corps_members_are_also_nearest(incident):
    area = LocalAreaFactory()
    both = VolunteerFactory(local_area=area, location=north(100))
    app = [VolunteerFactory(location=north(200 + 100 * i)) for i in range(3)]
    policy = DispatchPolicy(app_volunteers_per_wave=2)

    candidates = chosen(incident, policy=policy, include_corps=True)

    assert [(c.volunteer_id, c.pool) for c in candidates] == [
        (both.pk, Alert.Pool.CORPS),
        (app[0].pk, Alert.Pool.APP),
        (app[1].pk, Alert.Pool.APP),
    ]


def _at_local(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 25, hour, minute, tzinfo=COPENHAGEN)


@pytest.mark.parametrize(
    ("start", "end", "local_hour", "alerted"),
    [
        (dt.time(22), dt.time(7), 23, False),  # a night window wrapping past midnight
        (dt.time(22), dt.time(7), 3, False),
        (dt.time(22), dt.time(7), 12, True),
        (dt.time(9), dt.time(17), 12, False),  # a day window
        (dt.time(9), dt.time(17), 17, True),  # the end is exclusive
    ],
)
def test_volunteers_in_their_quiet_hours_are_not_chosen(incident, start, end, local_hour, alerted):
    now = _at_local(local_hour)
    volunteer = VolunteerFactory(
        location=north(500), location_updated_at=now, quiet_hours_start=start, quiet_hours_end=end
    )

    assert (volunteer.pk in chosen_ids(incident, now=now)) is alerted
