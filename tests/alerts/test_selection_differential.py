"""Candidate selection's SQL against Volunteer.objects.dispatchable(), on random data.

alerts.selectors.dispatch_candidates chooses the app pool with a hand-written prepared
statement; volunteers.models declares the same rules in the ORM. Here both choose among a few
hundred volunteers drawn with a seeded RNG around the edge of every rule (availability,
verification, the 18th birthday by the date in Denmark, the age of the position, quiet hours
that may wrap past midnight or lack an end, corps membership, earlier alerts for the incident,
engagements on other incidents, open or ended, and ones that ended around the rest period,
the policy's vetting: approval, the age of the first-aid course, flagged position jumps),
for many incident points, radii, wave sizes and times, and must return the same people in the
same order. Mutants of the ORM query, each with one rule changed, must disagree somewhere: the
data reaches every rule.
"""

import dataclasses
import datetime as dt
import random
import zoneinfo
from collections.abc import Callable, Iterator

import pytest
from django.contrib.gis.db.models import PointField
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.db.models import Exists, F, FloatField, Func, OuterRef, Q, QuerySet, Value
from django.utils import timezone

from alerts.models import Alert, DispatchPolicy
from alerts.selectors.policy import policy_vetting
from alerts.selectors.selection import dispatch_candidates
from amk.models import Incident
from tests.factories import (
    AARHUS_C,
    AlertFactory,
    IncidentFactory,
    LocalAreaFactory,
    VolunteerFactory,
    point,
    square_around,
)
from volunteers.models import (
    REACHABLE_BY_APP,
    AdultBirthdateLimit,
    LocalArea,
    Vetting,
    Volunteer,
    VolunteerQuerySet,
)

pytestmark = pytest.mark.usefixtures("reference_geography")

SEED = 112
REST_PERIODS = [0, 0, 600, 3600]
ENGAGED = list(Alert.ENGAGED_STATES)
ENDED_ENGAGEMENTS = [Alert.State.RELEASED, Alert.State.CANCELLED]
VOLUNTEERS = 300
ROUNDS = 8
CASES_PER_ROUND = 40
MAX_AGE = dt.timedelta(seconds=DispatchPolicy().location_max_age_s)
# Volunteers are spread over about 16 by 15 km around Aarhus; the corps' areas lie inside.
SPREAD = (0.13, 0.07)
AREA_CENTRES = [AARHUS_C, (10.13, 56.12), (10.28, 56.19)]
AREA_HALF_SIDE = 0.02
COURSE_DAYS = [365, 730]


@dataclasses.dataclass(frozen=True)
class Case:
    """One call of candidate selection: an incident, where, how far, how many, when."""

    incident_id: int
    point: Point
    radius_m: int
    limit: int
    include_corps: bool
    now: dt.datetime
    rest_s: int = 0
    # The policy's vetting.
    require_approval: bool = False
    course_days: int | None = None
    max_jumps: int | None = None

    @property
    def policy(self) -> DispatchPolicy:
        return DispatchPolicy(
            app_volunteers_per_wave=self.limit,
            cooldown_after_incident_s=self.rest_s,
            require_approval=self.require_approval,
            require_course_within_days=self.course_days,
            exclude_after_location_jumps=self.max_jumps,
        )

    @property
    def vetting(self) -> Vetting:
        return policy_vetting(self.policy, now=self.now)

    @property
    def fresh_since(self) -> dt.datetime:
        return self.now - MAX_AGE

    @property
    def rest_since(self) -> dt.datetime:
        return self.now - dt.timedelta(seconds=self.rest_s)

    def busy(self) -> QuerySet[Alert]:
        return Alert.objects.keeping_busy(rest_since=self.rest_since)

    @property
    def local_time(self) -> dt.time:
        return timezone.localtime(self.now).time()


def sql_app_pool(case: Case) -> list[int]:
    candidates = dispatch_candidates(
        incident_id=case.incident_id,
        point=case.point,
        policy=case.policy,
        radius_m=case.radius_m,
        include_corps=case.include_corps,
        now=case.now,
    )
    return [c.volunteer_id for c in candidates if c.pool == Alert.Pool.APP]


def knn_distance(point: Point) -> Func:
    """`location <-> point`: the distance the index's nearest-first walk goes by."""
    return Func(
        F("location"),
        Value(point, output_field=PointField(geography=True, srid=4326)),
        arg_joiner=" <-> ",
        template="%(expressions)s",
        output_field=FloatField(),
    )


def orm_app_pool(
    case: Case,
    volunteers: "Callable[[Case], VolunteerQuerySet] | None" = None,
    *,
    leave_out_alerted: bool = True,
    leave_out_corps: bool = True,
) -> list[int]:
    """The app pool built on Volunteer.objects.dispatchable() (or a mutant of it)."""
    if volunteers is None:
        pool = Volunteer.objects.dispatchable(
            fresh_since=case.fresh_since,
            local_time=case.local_time,
            busy=case.busy(),
            vetting=case.vetting,
        )
    else:
        pool = volunteers(case)
    if leave_out_alerted:
        alerted = Alert.objects.filter(incident_id=case.incident_id, volunteer=OuterRef("pk"))
        pool = pool.exclude(Exists(alerted))
    if case.include_corps and leave_out_corps:
        pool = pool.exclude(local_area__in=LocalArea.objects.filter(area__intersects=case.point))
    nearest = (
        pool.annotate(knn=knn_distance(case.point), distance=Distance("location", case.point))
        .order_by("knn", "pk")
        .values_list("pk", "distance")[: case.limit]
    )
    return [pk for pk, distance in nearest if distance.m <= case.radius_m]


# --- The random world ------------------------------------------------------------------------


def _on_the_hour(rng: random.Random) -> dt.time:
    return dt.time(rng.randrange(24))


def _quiet_hours(rng: random.Random) -> tuple[dt.time | None, dt.time | None]:
    draw = rng.random()
    if draw < 0.4:
        return None, None
    if draw < 0.45:
        return _on_the_hour(rng), None
    if draw < 0.5:
        return None, _on_the_hour(rng)
    start = _on_the_hour(rng)
    end = _on_the_hour(rng)
    while end == start:
        end = _on_the_hour(rng)
    return start, end  # about half of them wrap past midnight (start after end)


def _course_on(rng: random.Random, today: dt.date) -> dt.date | None:
    """A course date: none, around one of the policies' limits (the world's days), or any."""
    draw = rng.random()
    if draw < 0.15:
        return None
    if draw < 0.6:
        return today - dt.timedelta(days=rng.choice(COURSE_DAYS) + rng.randint(-2, 2))
    return today - dt.timedelta(days=rng.randint(0, 1500))


def _location_age(rng: random.Random) -> dt.timedelta | None:
    draw = rng.random()
    if draw < 0.1:
        return None
    if draw < 0.7:  # around the freshness limit
        return MAX_AGE + dt.timedelta(microseconds=rng.randrange(-120_000_000, 120_000_000))
    if draw < 0.9:
        return dt.timedelta(seconds=rng.uniform(0, MAX_AGE.total_seconds()))
    return dt.timedelta(seconds=rng.uniform(2, 200) * MAX_AGE.total_seconds())


def _random_point(rng: random.Random, centre=AARHUS_C, spread=SPREAD) -> Point:
    return point(
        centre[0] + rng.uniform(-spread[0], spread[0]), centre[1] + rng.uniform(-1, 1) * spread[1]
    )


def _engagement(rng: random.Random, t0: dt.datetime, others: dict[str, list[int]]) -> dict:
    """An alert elsewhere for someone: engaged, ended around a rest period, or none at all."""
    draw = rng.random()
    answered = {"answered_at": t0 - dt.timedelta(minutes=30)}
    if draw < 0.4:  # at work on another incident: open, or ended (then not engaged any more)
        incidents = others["open"] if draw < 0.3 else others["ended"]
        return {"incident_id": rng.choice(incidents), "state": rng.choice(ENGAGED), **answered}
    rest = dt.timedelta(seconds=rng.choice([600, 3600]))
    ended_at = t0 - rest + dt.timedelta(microseconds=rng.randrange(-120_000_000, 120_000_000))
    ended = {"incident_id": rng.choice(others["ended"]), "ended_at": ended_at}
    if draw < 0.75:  # finished, withdrew or was stood down, around a rest period ago
        return {"state": rng.choice(ENDED_ENGAGEMENTS), **answered, **ended}
    # Lately, never engaged: declined, or released (or stood down) without having answered.
    ended["ended_at"] = t0 - dt.timedelta(seconds=rng.uniform(0, 600))
    if draw < 0.9:
        return {"state": Alert.State.DECLINED, **answered, **ended}
    return {"state": rng.choice(ENDED_ENGAGEMENTS), **ended}


@dataclasses.dataclass
class World:
    rng: random.Random
    t0: dt.datetime
    volunteers: list[Volunteer]
    incident_ids: list[int]
    vet_rng: random.Random

    def move_clock(self, t0: dt.datetime) -> None:
        """Move every position's and engagement's time with the clock: ages stay as drawn."""
        Volunteer.objects.filter(location_updated_at__isnull=False).update(
            location_updated_at=F("location_updated_at") + (t0 - self.t0)
        )
        Alert.objects.filter(ended_at__isnull=False).update(ended_at=F("ended_at") + (t0 - self.t0))
        days = timezone.localdate(t0) - timezone.localdate(self.t0)
        for volunteer in self.volunteers:
            if volunteer.location_updated_at is not None:
                volunteer.location_updated_at += t0 - self.t0
            if volunteer.first_aid_course_on is not None:  # course ages stay as drawn, in days
                volunteer.first_aid_course_on += days
        Volunteer.objects.bulk_update(self.volunteers, ["first_aid_course_on"])
        self.t0 = t0

    def cases(self) -> Iterator[Case]:
        """Calls around the world's clock: random ones, and some on a volunteer's edge."""
        rng = self.rng
        located = [v for v in self.volunteers if v.location is not None]
        rested = list(
            Alert.objects.filter(
                state__in=ENDED_ENGAGEMENTS,
                answered_at__isnull=False,
                volunteer__location__isnull=False,
            ).values_list("ended_at", "volunteer__location")
        )
        for _ in range(CASES_PER_ROUND):
            now = self.t0 + dt.timedelta(microseconds=rng.randrange(-150_000_000, 150_000_000))
            rest_s = rng.choice(REST_PERIODS)
            course_days = self.vet_rng.choice([None, None, *COURSE_DAYS])
            draw = rng.random()
            if draw < 0.1:  # next to someone whose engagement ended exactly a rest period ago
                ended_at, location = rng.choice(rested)
                rest_s = rng.choice([600, 3600])
                now = ended_at + dt.timedelta(seconds=rest_s)
                where = _random_point(rng, location.coords, (0.002, 0.001))
            elif draw < 0.25:  # next to someone whose position is exactly as old as allowed
                volunteer = rng.choice(located)
                now = volunteer.location_updated_at + MAX_AGE
                where = _random_point(rng, volunteer.location.coords, (0.002, 0.001))
                if volunteer.first_aid_course_on and self.vet_rng.random() < 0.5:
                    # and whose course is as old as the policy allows
                    course_days = (timezone.localdate(now) - volunteer.first_aid_course_on).days
            elif draw < 0.5:  # next to someone, on the hour: quiet hours start or end now
                now = self.t0
                where = _random_point(rng, rng.choice(located).location.coords, (0.002, 0.001))
            elif draw < 0.7:  # inside a corps' area
                where = _random_point(rng, rng.choice(AREA_CENTRES), (0.015, 0.015))
            else:
                where = _random_point(rng, AARHUS_C, (SPREAD[0] * 1.2, SPREAD[1] * 1.2))
            yield Case(
                incident_id=rng.choice(self.incident_ids),
                point=where,
                radius_m=rng.choice([200, 500, 1_000, 2_500, 5_000, 10_000, 20_000]),
                limit=rng.choice([1, 2, 5, 10, 20, 40]),
                include_corps=rng.random() < 0.6,
                now=now,
                rest_s=rest_s,
                require_approval=self.vet_rng.random() < 0.4,
                course_days=course_days if course_days else None,
                max_jumps=self.vet_rng.choice([None, 1, 3]),
            )

    def all_cases(self) -> Iterator[Case]:
        rng = self.rng
        # An ordinary day, and the two days of 2026 when Denmark's clocks change.
        days = [dt.date(2026, 11, 25), dt.date(2026, 3, 29), dt.date(2026, 10, 25)]
        hours = [0, 23, 7, 22, 12, *(rng.randrange(24) for _ in range(ROUNDS - 5))]
        for hour in hours[:ROUNDS]:
            self.move_clock(
                timezone.make_aware(dt.datetime.combine(rng.choice(days), dt.time(hour)))
            )
            yield from self.cases()


def _allow_minors() -> None:
    """Drop the age constraint for this test's transaction: selection checks age on its own."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE volunteers_volunteer DROP CONSTRAINT volunteer_is_adult")


def _adult_birthdate_limit() -> dt.date:
    """The latest birth date of an adult today, by the database (the date in Denmark)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {AdultBirthdateLimit.template}")
        return cursor.fetchone()[0]


@pytest.fixture
def world(db) -> World:
    rng = random.Random(SEED)
    vet_rng = random.Random(SEED + 1)  # the vetting's own draws: the rest of the world as before
    _allow_minors()
    adult_limit = _adult_birthdate_limit()
    t0 = dt.datetime(2026, 11, 25, 12, tzinfo=zoneinfo.ZoneInfo("Europe/Copenhagen"))
    areas = [LocalAreaFactory(area=square_around(*c, AREA_HALF_SIDE)) for c in AREA_CENTRES]
    volunteers = []
    for _ in range(VOLUNTEERS):
        local_area = rng.choice(areas) if rng.random() < 0.25 else None
        age = _location_age(rng)
        start, end = _quiet_hours(rng)
        if rng.random() < 0.35:  # around the 18th birthday
            born = adult_limit + dt.timedelta(days=rng.randint(-2, 2))
        else:
            born = adult_limit - dt.timedelta(days=rng.randint(1, 50 * 365))
        volunteers.append(
            VolunteerFactory(
                local_area=local_area,
                is_heart_runner=local_area is None or rng.random() < 0.5,
                is_available=rng.random() < 0.85,
                phone_verified_at=t0 if rng.random() < 0.85 else None,
                date_of_birth=born,
                location=None if age is None else _random_point(rng),
                location_updated_at=None if age is None else t0 - age,
                quiet_hours_start=start,
                quiet_hours_end=end,
                approved_at=t0 if vet_rng.random() < 0.8 else None,
                first_aid_course_on=_course_on(vet_rng, t0.date()),
                location_jumps=vet_rng.choice([0, 0, 0, 1, 2, 3]),
            )
        )
    incident_ids = [IncidentFactory().pk for _ in range(4)]
    for volunteer in rng.sample(volunteers, VOLUNTEERS // 5):  # the last incident has no alerts
        AlertFactory(incident_id=rng.choice(incident_ids[:3]), volunteer=volunteer)
    # Other incidents, where people are at work, or were.
    others = {
        "open": [IncidentFactory(state=Incident.State.ACTIVE).pk for _ in range(2)],
        "ended": [
            IncidentFactory(state=state, closed_at=t0).pk
            for state in (Incident.State.CLOSED, Incident.State.CANCELLED)
        ],
    }
    for volunteer in rng.sample(volunteers, VOLUNTEERS * 2 // 5):
        AlertFactory(volunteer=volunteer, **_engagement(rng, t0, others))
    return World(rng=rng, t0=t0, volunteers=volunteers, incident_ids=incident_ids, vet_rng=vet_rng)


# --- The tests -------------------------------------------------------------------------------


def test_the_orm_rules_choose_the_same_people_in_the_same_order_as_the_sql(world):
    chosen = full = 0
    for case in world.all_cases():
        expected = sql_app_pool(case)

        assert orm_app_pool(case) == expected, case
        chosen += bool(expected)
        full += len(expected) == case.limit

    # The cases are not trivial: most choose someone, and some fill the wave.
    assert chosen > ROUNDS * CASES_PER_ROUND // 2
    assert full > ROUNDS * CASES_PER_ROUND // 10


def _rules(
    case: Case,
    *,
    reachable: Q = REACHABLE_BY_APP,
    adults: bool = True,
    fresh: bool = True,
    quiet_hours: "Callable[[dt.time], Q] | None" = None,
    busy: "Callable[[Case], QuerySet[Alert]] | None" = None,
    vetting: "Callable[[Case], Q] | None" = None,
) -> VolunteerQuerySet:
    """dispatchable() by its pieces, with one of them changed by a mutant."""
    volunteers = Volunteer.objects.filter(reachable)
    if vetting is None:
        volunteers = volunteers.vetted(case.vetting)
    else:
        volunteers = volunteers.filter(vetting(case))
    if adults:
        volunteers = volunteers.adults()
    if fresh:
        volunteers = volunteers.fresh(since=case.fresh_since)
    volunteers = volunteers.not_busy(case.busy() if busy is None else busy(case))
    if quiet_hours is None:
        return volunteers.outside_quiet_hours(case.local_time)
    return volunteers.filter(quiet_hours(case.local_time))


NEVER = Q(pk__in=[])


def _busy_but(
    *,
    engagement: Q = Q(answered_at__isnull=False, state__in=Alert.ENGAGEMENT_STATES),  # noqa: B008  an immutable value
    engaged: Q = Q(state__in=ENGAGED, incident__state__in=Incident.OPEN_STATES),  # noqa: B008  an immutable value
    resting: "Callable[[Case], Q]" = lambda c: Q(ended_at__gt=c.rest_since),
) -> "Callable[[Case], QuerySet[Alert]]":
    """Alert.objects.keeping_busy() by its pieces, with one of them changed by a mutant."""
    return lambda c: Alert.objects.filter(engagement).filter(engaged | resting(c))


def _reachable_without(lookup: str) -> Q:
    return Q(*(child for child in REACHABLE_BY_APP.children if child[0] != lookup))


def _quiet_hours_never_wrapping(t: dt.time) -> Q:
    return (
        Q(quiet_hours_start__isnull=True)
        | Q(quiet_hours_end__isnull=True)
        | Q(quiet_hours_start__gt=t)
        | Q(quiet_hours_end__lte=t)
    )


def _quiet_hours_with_their_end(t: dt.time) -> Q:
    end = F("quiet_hours_end")
    return (
        Q(quiet_hours_start__isnull=True)
        | Q(quiet_hours_end__isnull=True)
        | Q(quiet_hours_start__lte=end) & (Q(quiet_hours_start__gt=t) | Q(quiet_hours_end__lt=t))
        | Q(quiet_hours_start__gt=end) & Q(quiet_hours_end__lt=t, quiet_hours_start__gt=t)
    )


def _vetting_but(**changed: "Callable[[Case], Q]") -> "Callable[[Case], Q]":
    """Vetting.q() by its pieces, with one of them changed by a mutant."""

    def pieces(c: Case) -> Q:
        v = c.vetting
        parts = {
            "approval": Q(approved_at__isnull=False) if v.require_approval else Q(),
            "course": Q(first_aid_course_on__gte=v.course_since) if v.course_since else Q(),
            "jumps": (
                Q(location_jumps__lt=v.max_location_jumps)
                if v.max_location_jumps is not None
                else Q()
            ),
        }
        for name, change in changed.items():
            parts[name] = change(c)
        return parts["approval"] & parts["course"] & parts["jumps"]

    return pieces


# Each mutant changes one rule: (the person and time rules, the incident's options).
MUTANTS: dict[str, tuple["Callable[[Case], VolunteerQuerySet] | None", dict[str, bool]]] = {
    "corps-only members too": (
        lambda c: _rules(c, reachable=_reachable_without("is_heart_runner")),
        {},
    ),
    "unavailable people too": (
        lambda c: _rules(c, reachable=_reachable_without("is_available")),
        {},
    ),
    "unverified phones too": (
        lambda c: _rules(c, reachable=_reachable_without("phone_verified_at__isnull")),
        {},
    ),
    "minors too": (lambda c: _rules(c, adults=False), {}),
    "stale positions too": (lambda c: _rules(c, fresh=False), {}),
    "a position exactly as old as allowed is stale": (
        lambda c: _rules(c, fresh=False).filter(location_updated_at__gt=c.fresh_since),
        {},
    ),
    "quiet hours ignored": (lambda c: _rules(c, quiet_hours=lambda t: Q()), {}),
    "quiet hours never wrap": (lambda c: _rules(c, quiet_hours=_quiet_hours_never_wrapping), {}),
    "quiet hours include their end": (
        lambda c: _rules(c, quiet_hours=_quiet_hours_with_their_end),
        {},
    ),
    "engaged elsewhere too": (lambda c: _rules(c, busy=_busy_but(engaged=NEVER)), {}),
    "engaged on an ended incident counts": (
        lambda c: _rules(c, busy=_busy_but(engaged=Q(state__in=ENGAGED))),
        {},
    ),
    "no rest period": (lambda c: _rules(c, busy=_busy_but(resting=lambda c: NEVER)), {}),
    "the rest period includes its end": (
        lambda c: _rules(c, busy=_busy_but(resting=lambda c: Q(ended_at__gte=c.rest_since))),
        {},
    ),
    "a decline counts as an engagement": (
        lambda c: _rules(
            c,
            busy=_busy_but(
                engagement=Q(
                    answered_at__isnull=False,
                    state__in=[*Alert.ENGAGEMENT_STATES, Alert.State.DECLINED],
                )
            ),
        ),
        {},
    ),
    "an unanswered release counts as an engagement": (
        lambda c: _rules(c, busy=_busy_but(engagement=Q(state__in=Alert.ENGAGEMENT_STATES))),
        {},
    ),
    "unapproved people too": (
        lambda c: _rules(c, vetting=_vetting_but(approval=lambda c: Q())),
        {},
    ),
    "any course date": (lambda c: _rules(c, vetting=_vetting_but(course=lambda c: Q())), {}),
    "no course counts as a valid one": (
        lambda c: _rules(
            c,
            vetting=_vetting_but(
                course=lambda c: (
                    Q(first_aid_course_on__gte=c.vetting.course_since)
                    | Q(first_aid_course_on__isnull=True)
                    if c.vetting.course_since
                    else Q()
                )
            ),
        ),
        {},
    ),
    "a course exactly as old as allowed is too old": (
        lambda c: _rules(
            c,
            vetting=_vetting_but(
                course=lambda c: (
                    Q(first_aid_course_on__gt=c.vetting.course_since)
                    if c.vetting.course_since
                    else Q()
                )
            ),
        ),
        {},
    ),
    "position jumps ignored": (lambda c: _rules(c, vetting=_vetting_but(jumps=lambda c: Q())), {}),
    "the jump limit itself still passes": (
        lambda c: _rules(
            c,
            vetting=_vetting_but(
                jumps=lambda c: (
                    Q(location_jumps__lte=c.vetting.max_location_jumps)
                    if c.vetting.max_location_jumps is not None
                    else Q()
                )
            ),
        ),
        {},
    ),
    "already alerted too": (None, {"leave_out_alerted": False}),
    "corps members of the area too": (None, {"leave_out_corps": False}),
}


def test_the_random_data_tells_apart_every_rule(world):
    undetected = dict(MUTANTS)
    for case in world.all_cases():
        expected = sql_app_pool(case)
        for name, (volunteers, options) in list(undetected.items()):
            if orm_app_pool(case, volunteers, **options) != expected:
                del undetected[name]
        if not undetected:
            break

    assert list(undetected) == []


def _save(volunteer: Volunteer, **fields: object) -> None:
    for field, value in fields.items():
        setattr(volunteer, field, value)
    volunteer.save(update_fields=list(fields))


# One change per rule to someone chosen, each of which must take them out of both pools.
CHANGES: dict[str, Callable[[Volunteer, Case], object]] = {
    "unverified": lambda v, c: _save(v, phone_verified_at=None),
    "unavailable": lambda v, c: _save(v, is_available=False),
    "corps only": lambda v, c: _save(
        v, is_heart_runner=False, local_area=v.local_area or LocalArea.objects.first()
    ),
    "a day short of 18": lambda v, c: _save(
        v, date_of_birth=_adult_birthdate_limit() + dt.timedelta(days=1)
    ),
    "position a microsecond too old": lambda v, c: _save(
        v, location_updated_at=c.fresh_since - dt.timedelta(microseconds=1)
    ),
    "quiet hours from now on": lambda v, c: _save(
        v,
        quiet_hours_start=c.local_time,
        quiet_hours_end=(timezone.localtime(c.now) - dt.timedelta(hours=1)).time(),
    ),
    "not approved": lambda v, c: _save(v, approved_at=None),
    "course a day too old": lambda v, c: _save(
        v, first_aid_course_on=c.vetting.course_since - dt.timedelta(days=1)
    ),
    "no course": lambda v, c: _save(v, first_aid_course_on=None),
    "flagged for jumps as often as the policy allows": lambda v, c: _save(
        v, location_jumps=c.max_jumps
    ),
    "alerted for the incident": lambda v, c: AlertFactory(incident_id=c.incident_id, volunteer=v),
    "on the way to another incident": lambda v, c: AlertFactory(
        volunteer=v,
        incident=IncidentFactory(state=Incident.State.ACTIVE),
        state=Alert.State.EN_ROUTE,
        answered_at=c.now,
    ),
    "finished another incident within the rest period": lambda v, c: AlertFactory(
        volunteer=v,
        incident=IncidentFactory(state=Incident.State.CLOSED, closed_at=c.now),
        state=Alert.State.RELEASED,
        answered_at=c.now - dt.timedelta(minutes=20),
        ended_at=c.rest_since + dt.timedelta(microseconds=1),
    ),
}


def test_one_changed_rule_takes_the_volunteer_out_of_both(world):
    strict = {"rest_s": 600, "require_approval": True, "course_days": 730, "max_jumps": 3}
    case = next(
        dataclasses.replace(case, **strict)
        for case in world.all_cases()
        if len(sql_app_pool(dataclasses.replace(case, **strict))) >= 3
    )
    volunteer = Volunteer.objects.get(pk=sql_app_pool(case)[1])

    for name, change in CHANGES.items():
        with transaction.atomic():
            change(volunteer, case)

            assert volunteer.pk not in sql_app_pool(case), name
            assert orm_app_pool(case) == sql_app_pool(case), name
            transaction.set_rollback(True)
        volunteer.refresh_from_db()
        assert volunteer.pk in sql_app_pool(case), name


def test_the_orm_rules_can_walk_the_index_declared_for_them(db):
    now = timezone.now()
    nearest = (
        Volunteer.objects.dispatchable(
            fresh_since=now - MAX_AGE,
            local_time=timezone.localtime(now).time(),
            busy=Alert.objects.keeping_busy(rest_since=now),
            vetting=Vetting(require_approval=True, course_since=now.date(), max_location_jumps=3),
        )
        .annotate(knn=knn_distance(point(*AARHUS_C)))
        .order_by("knn")[:20]
    )
    sql, params = nearest.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table: make it choose
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "volunteer_dispatchable_fresh_loc_idx" in plan
