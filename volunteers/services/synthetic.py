"""The synthetic demo population: hjerteløbere near real places by population, corps members
inside their areas, the corps' own AEDs, and the refresh that keeps their positions fresh."""

import datetime as dt
import io
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from amk.selectors.territory import Anchor, AnchorSampler
from config.exceptions import ApplicationError
from config.imports import ImportSummary, Progress, synthetic_epoch
from defibrillators.services import synthetic_defibrillator_ensure
from volunteers.models import LocalArea, Volunteer

SYNTHETIC_APP_PREFIX = "demo-v"
SYNTHETIC_CORPS_PREFIX = "demo-c-"
VOLUNTEER_JITTER_M = 1500
CORPS_SPREAD_M = 3000
CORPS_HEART_RUNNER_SHARE = 0.4
CORPS_PHONE_BASE = 9_000_000
COPY_CHUNK = 50_000
REFRESH_AFTER = dt.timedelta(minutes=1)

FIRST_NAMES = (
    "Anne", "Kirsten", "Mette", "Hanne", "Helle", "Susanne", "Lene", "Maria", "Marianne", "Lone",
    "Camilla", "Pia", "Louise", "Charlotte", "Tina", "Gitte", "Ida", "Emma", "Julie", "Sofie",
    "Freja", "Laura", "Karen", "Inger", "Birgitte", "Peter", "Jens", "Michael", "Lars", "Henrik",
    "Thomas", "Søren", "Jan", "Niels", "Morten", "Rasmus", "Jesper", "Anders", "Martin", "Mads",
    "Christian", "Frederik", "Mikkel", "Jakob", "Oliver", "Emil", "Kasper", "Jonas", "Ole", "Bo",
)  # fmt: skip
LAST_NAMES = (
    "Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
    "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen",
    "Christiansen", "Poulsen", "Johansen", "Møller", "Mortensen", "Knudsen", "Jakobsen",
    "Mikkelsen", "Frederiksen", "Laursen", "Henriksen", "Lund", "Schmidt", "Eriksen", "Holm",
    "Kristiansen", "Clausen", "Simonsen", "Svendsen", "Andreasen", "Iversen", "Østergaard",
    "Jeppesen", "Vestergaard", "Nissen", "Lauridsen", "Kjær", "Skov", "Dahl", "Bach", "Damgaard",
)  # fmt: skip
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class _Recipe:
    """One synthetic person to create. The username seeds the person's own random stream, so
    a row is the same whichever run, size or order creates it."""

    username: str
    phone_index: int
    local_area: LocalArea | None = None

    def rng(self, seed: int) -> random.Random:
        return random.Random(f"{seed}/{self.username}")  # noqa: S311  synthetic data, not security


def synthetic_phone(index: int) -> str:
    """Unique +45 3xxxxxxx numbers that look random: 7919 is coprime to 10**7."""
    return f"+453{index * 7919 % 10**7:07d}"


def _point_in_area(rng: random.Random, area: LocalArea) -> tuple[float, float]:
    """A point inside the corps' area, near the village; the village itself as a last resort."""
    village = Anchor(area.name, area.village_point.x, area.village_point.y)
    for _attempt in range(200):
        lon, lat = village.jittered(rng, CORPS_SPREAD_M)
        if area.area.prepared.contains(Point(lon, lat, srid=4326)):
            return lon, lat
    return village.lon, village.lat


def _person_rows(
    recipe: _Recipe, *, seed: int, sampler: AnchorSampler, user_id: int, now: dt.datetime
) -> tuple[dict, dict]:
    """The auth_user and volunteers_volunteer rows for COPY, drawn from the recipe's stream."""
    rng, epoch = recipe.rng(seed), synthetic_epoch()
    if recipe.local_area is None:
        lon, lat = sampler.draw(rng).jittered(rng, VOLUNTEER_JITTER_M)
        is_heart_runner, local_area_id = True, None
    else:
        lon, lat = _point_in_area(rng, recipe.local_area)
        is_heart_runner = rng.random() < CORPS_HEART_RUNNER_SHARE
        local_area_id = recipe.local_area.pk
    first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    password = UNUSABLE_PASSWORD_PREFIX + "".join(rng.choices(_PASSWORD_ALPHABET, k=40))
    joined = dt.datetime.combine(epoch, dt.time(12), dt.UTC) - dt.timedelta(rng.randint(0, 1500))
    verified = joined + dt.timedelta(minutes=rng.randint(1, 600)) if rng.random() < 0.8 else None
    born = epoch - dt.timedelta(days=rng.randint(18 * 366, 75 * 365))
    course: dt.date | None = epoch - dt.timedelta(days=rng.randint(0, 1100))
    course = course if rng.random() < 0.75 else None
    is_available = rng.random() < 0.85
    location = location_at = accuracy = None
    kind = rng.random()
    if kind < 0.5:  # a quarter fresh (minutes old), a quarter stale (hours old)
        age_s = rng.randint(5, 300) if kind < 0.25 else rng.randint(2 * 3600, 48 * 3600)
        accuracy = rng.randint(5, 50) if kind < 0.25 else rng.randint(5, 150)
        location, location_at = f"SRID=4326;POINT({lon} {lat})", now - dt.timedelta(seconds=age_s)
    user = {
        "id": user_id, "password": password, "last_login": None, "is_superuser": False,
        "username": recipe.username, "first_name": first_name, "last_name": last_name,
        "email": "", "is_staff": False, "is_active": True, "date_joined": joined,
    }  # fmt: skip
    volunteer = {
        "user_id": user_id, "is_heart_runner": is_heart_runner, "local_area_id": local_area_id,
        "phone": synthetic_phone(recipe.phone_index), "phone_verified_at": verified,
        "date_of_birth": born, "first_aid_course_on": course, "is_available": is_available,
        "location": location,
        "location_updated_at": location_at, "location_accuracy_m": accuracy, "synthetic": True,
        "approved_at": joined,
        "created_at": now, "updated_at": now,
    }  # fmt: skip
    return user, volunteer


def _copy_value(value: object) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _copy_rows(cursor, table: str, rows: list[dict]) -> None:
    """COPY … FROM STDIN in PostgreSQL's text format: orders of magnitude faster than INSERTs."""
    if not rows:
        return
    columns = list(rows[0])
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_value(row[column]) for column in columns))
        buffer.write("\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def _reserved_user_ids(cursor, count: int) -> list[int]:
    table = get_user_model()._meta.db_table
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, count],
    )
    return [user_id for (user_id,) in cursor.fetchall()]


def _phones_in_use(cursor, phones: list[str]) -> set[str]:
    """Raw SQL: the ORM would parse every number with phonenumbers, minutes for a million."""
    table = Volunteer._meta.db_table
    sql = f"SELECT phone FROM {table} WHERE phone = ANY(%s)"  # noqa: S608  identifiers are constants; values are parameters
    cursor.execute(sql, [phones])
    return {phone for (phone,) in cursor.fetchall()}


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _recipes(count: int, corps_per_area: int) -> list[_Recipe]:
    recipes = [_Recipe(f"{SYNTHETIC_APP_PREFIX}{i:07d}", i) for i in range(1, count + 1)]
    for rank, area in enumerate(LocalArea.objects.order_by("name")):
        recipes += [
            _Recipe(
                f"{SYNTHETIC_CORPS_PREFIX}{slugify(area.name)}-{member:03d}",
                CORPS_PHONE_BASE + rank * 1000 + member,
                area,
            )
            for member in range(1, corps_per_area + 1)
        ]
    return recipes


def _check_seed(recipe: _Recipe, *, seed: int, sampler: AnchorSampler) -> None:
    """Refuse to mix two seeds: the stored person must be the one this seed would create."""
    stored = (
        Volunteer.objects.filter(user__username=recipe.username)
        .values_list("user__first_name", "user__last_name", "user__password")
        .first()
    )
    if stored is None:
        return
    user = _person_rows(recipe, seed=seed, sampler=sampler, user_id=0, now=timezone.now())[0]
    if stored != (user["first_name"], user["last_name"], user["password"]):
        raise ApplicationError(
            f"The synthetic volunteers were generated with another seed than {seed}: "
            "use --replace to regenerate them."
        )


def _synthetic_volunteers_delete(progress: Progress) -> None:
    """Through the ORM in batches, so every other app's on_delete rules still apply."""
    user_ids = list(Volunteer.objects.filter(synthetic=True).values_list("user_id", flat=True))
    for batch in _chunks(user_ids, 10_000):
        get_user_model().objects.filter(pk__in=batch).delete()
    progress(f"Deleted {len(user_ids)} synthetic volunteers.")


@transaction.atomic
def synthetic_volunteers_generate(
    *,
    seed: int,
    count: int,
    corps_per_area: int,
    sampler: AnchorSampler,
    replace: bool = False,
    progress: Progress,
) -> ImportSummary:
    """Hjerteløbere near real places by population, and corps members inside their areas.

    Deterministic by seed, per person. A run creates only the people missing for the requested
    size; people beyond it are kept (``replace`` deletes all synthetic volunteers first).
    """
    if count < 0 or corps_per_area < 0:
        raise ApplicationError("Sizes must not be negative.")
    if corps_per_area and not LocalArea.objects.exists():
        raise ApplicationError("No local areas: run load_local_areas first.")
    if replace:
        _synthetic_volunteers_delete(progress)
    recipes = _recipes(count, corps_per_area)
    for first in recipes[:1] + [r for r in recipes if r.local_area][:1]:
        _check_seed(first, seed=seed, sampler=sampler)
    existing = set(
        get_user_model()
        .objects.filter(volunteer__synthetic=True)
        .values_list("username", flat=True)
    )
    missing = [recipe for recipe in recipes if recipe.username not in existing]
    summary = ImportSummary(unchanged=len(recipes) - len(missing))
    if len(existing) > summary.unchanged:
        progress(
            f"Kept {len(existing) - summary.unchanged} synthetic volunteers beyond the requested "
            "size (use --replace to shrink)."
        )
    if not missing:
        return summary
    now = timezone.now()
    with connection.cursor() as cursor:
        for batch in _chunks(missing, COPY_CHUNK):
            taken = _phones_in_use(
                cursor, [synthetic_phone(recipe.phone_index) for recipe in batch]
            )
            users, volunteers = [], []
            for recipe, user_id in zip(batch, _reserved_user_ids(cursor, len(batch)), strict=True):
                if synthetic_phone(recipe.phone_index) in taken:
                    summary.skip(recipe.username, "phone number already in use")
                    continue
                user, volunteer = _person_rows(
                    recipe, seed=seed, sampler=sampler, user_id=user_id, now=now
                )
                users.append(user)
                volunteers.append(volunteer)
            _copy_rows(cursor, get_user_model()._meta.db_table, users)
            _copy_rows(cursor, Volunteer._meta.db_table, volunteers)
            summary.created += len(volunteers)
            progress(f"Volunteers: {summary.created} of {len(missing)} created …")
    return summary


def synthetic_locations_refresh() -> int:
    """Shift synthetic location times so the newest is now again.

    The generator gives a quarter fresh and a quarter stale locations; shifting all of them by
    the same amount keeps that mix, so a demo started days later still has fresh volunteers.
    """
    table = Volunteer._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH shift AS (
                SELECT now() - max(location_updated_at) AS by FROM {table} WHERE synthetic
            )
            UPDATE {table} SET location_updated_at = location_updated_at + shift.by
            FROM shift
            WHERE synthetic AND location_updated_at IS NOT NULL AND shift.by > %s
            """,  # noqa: S608  identifiers are constants; values are parameters
            [REFRESH_AFTER],  # type: ignore[list-item]  # psycopg2 adapts timedelta; stubs omit it
        )
        return cursor.rowcount


@transaction.atomic
def local_area_synthetic_aeds_ensure() -> ImportSummary:
    """Each corps' own AED, at its village point, linked to the area (real ones: in the admin)."""
    summary = ImportSummary()
    for area in LocalArea.objects.order_by("name"):
        aed, created = synthetic_defibrillator_ensure(
            source_id=f"demo-corps-{slugify(area.name)}",
            place_name=area.name,
            location=area.village_point,
            placement="Korpsets hjertestarter, ved forsamlingshuset",
        )
        summary.created += created
        summary.unchanged += not created
        area.local_aeds.add(aed)
    return summary
