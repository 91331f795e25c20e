"""Writes for volunteers: the local areas of the corps and the synthetic demo population."""

import csv
import datetime as dt
import enum
import io
import math
import random
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from amk.models import Municipality
from amk.selectors import Anchor, AnchorSampler, within_denmark
from amk.services import ImportSummary, Progress, synthetic_epoch
from config.exceptions import ApplicationError
from config.postgis.prepared import PreparedStatement
from defibrillators.services import synthetic_defibrillator_ensure
from volunteers.models import LocalArea, Volunteer

LOCAL_AREA_COLUMNS = ("omraade", "kommunekode", "lon", "lat", "koordinat_kilde", "bemaerkning")
DEFAULT_AREA_RADIUS_M = 6000

# ST_Buffer on geography gives a true circle in metres; clipping to the municipalities keeps the
# area on land. Only the municipalities the circle touches are unioned, so this stays fast.
_LAND_BUFFER_SQL = f"""
    SELECT ST_Multi(ST_CollectionExtract(ST_Union(ST_Intersection(m.area, circle.geom)), 3))
    FROM (SELECT ST_Buffer(ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s)::geometry
          AS geom) AS circle
    JOIN {Municipality._meta.db_table} m ON ST_Intersects(m.area, circle.geom)
"""


def _land_area(point: Point, radius_m: int) -> MultiPolygon | None:
    with connection.cursor() as cursor:
        cursor.execute(_LAND_BUFFER_SQL, [point.x, point.y, radius_m])
        (area,) = cursor.fetchone()
    return cast(MultiPolygon, GEOSGeometry(area)) if area else None  # ST_Multi: a MultiPolygon


def _read_csv(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise ApplicationError(f"File not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(required) - set(reader.fieldnames or ())
        if missing:
            raise ApplicationError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return list(reader)


def _local_area_fields(
    row: dict[str, str], municipalities: dict[str, Municipality]
) -> tuple[str, dict]:
    """The model fields of one CSV row; ValueError names the bad field."""
    name = (row["omraade"] or "").strip()
    name_max = LocalArea._meta.get_field("name").max_length
    if not name or (name_max and len(name) > name_max):
        raise ValueError("omraade: empty or too long")
    municipality = municipalities.get((row["kommunekode"] or "").strip().zfill(4))
    if municipality is None:
        raise ValueError(f"kommunekode: unknown municipality {row['kommunekode']!r}")
    try:
        lon, lat = float(row["lon"]), float(row["lat"])
    except (TypeError, ValueError):
        raise ValueError(f"lon/lat: not numbers ({row['lon']!r}, {row['lat']!r})") from None
    if not within_denmark(lon=lon, lat=lat):
        raise ValueError(f"lon/lat: {lon}, {lat} is outside Denmark")
    note = (row.get("bemaerkning") or "").strip()
    note_max = LocalArea._meta.get_field("note").max_length
    if note_max and len(note) > note_max:
        raise ValueError("bemaerkning: too long")
    return name, {
        "municipality": municipality,
        "village_point": Point(lon, lat, srid=4326),
        "location_is_approximate": (row["koordinat_kilde"] or "").startswith("omtrentlig"),
        "note": note,
    }


@transaction.atomic
def local_areas_load(
    *, path: Path, radius_m: int = DEFAULT_AREA_RADIUS_M, reset_areas: bool = False
) -> ImportSummary:
    """The corps' areas, each a land-clipped circle around its village point.

    An existing polygon is kept on re-runs, because an administrator may have drawn the real
    boundary; ``reset_areas`` derives it again.
    """
    if radius_m <= 0:
        raise ApplicationError("The radius must be positive.", field="radius_m")
    municipalities = {m.code: m for m in Municipality.objects.defer("area")}
    if not municipalities:
        raise ApplicationError("No municipalities loaded: run load_geography first.")
    rows = _read_csv(path, LOCAL_AREA_COLUMNS)
    summary = ImportSummary()
    existing = {area.name: area for area in LocalArea.objects.all()}
    for number, row in enumerate(rows, start=2):
        try:
            name, fields = _local_area_fields(row, municipalities)
        except ValueError as exc:
            summary.skip(f"row {number}", str(exc))
            continue
        area = existing.get(name)
        if area is None or reset_areas:
            fields["area"] = _land_area(fields["village_point"], radius_m)
            if fields["area"] is None or not fields["area"].contains(fields["village_point"]):
                summary.skip(f"row {number} ({name})", "village point is not on land")
                continue
        if area is None:
            existing[name] = LocalArea.objects.create(name=name, **fields)
            summary.created += 1
            continue
        changed = [field for field, value in fields.items() if getattr(area, field) != value]
        if changed:
            for field in changed:
                setattr(area, field, fields[field])
            area.save(update_fields=[*changed, "updated_at"])
            summary.updated += 1
        else:
            summary.unchanged += 1
    return summary


# --- The synthetic demo population -------------------------------------------------------------

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
        return random.Random(f"{seed}/{self.username}")


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
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
        [count],
    )
    return [user_id for (user_id,) in cursor.fetchall()]


def _phones_in_use(cursor, phones: list[str]) -> set[str]:
    """Raw SQL: the ORM would parse every number with phonenumbers, minutes for a million."""
    cursor.execute(f"SELECT phone FROM {Volunteer._meta.db_table} WHERE phone = ANY(%s)", [phones])
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
            """,
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


# --- The mobile API: sign-up and login by SMS code, profile, devices, location, privacy --------

import hashlib  # noqa: E402
import hmac  # noqa: E402
import secrets  # noqa: E402
import uuid  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db.models import F, Q  # noqa: E402
from django.utils.translation import gettext as _  # noqa: E402

from volunteers.models import (  # noqa: E402
    MINIMUM_AGE_YEARS,
    Consent,
    Debrief,
    Device,
    PhoneCode,
)

OTP_DIGITS = 6


def _code_hash(phone: str, code: str) -> str:
    """A keyed hash: a leaked table does not give the codes away (10⁶ guesses need the key)."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def phone_code_send(*, phone: str) -> None:
    """Send a fresh one-time code to a phone; earlier unused codes for it stop working."""
    from alerts.channels.base import SmsMessage, get_sms_backend

    code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
    now = timezone.now()
    PhoneCode.objects.filter(phone=phone, used_at__isnull=True).update(used_at=now)
    PhoneCode.objects.create(
        phone=phone,
        code_hash=_code_hash(phone, code),
        expires_at=now + dt.timedelta(seconds=settings.OTP_TTL_S),
    )
    minutes = max(1, settings.OTP_TTL_S // 60)
    body = _("Your Hjertealarm code is %(code)s. It expires in %(minutes)d minutes.") % {
        "code": code,
        "minutes": minutes,
    }
    get_sms_backend().send(SmsMessage(to=phone, body=body, validity_s=settings.OTP_TTL_S))


def phone_code_verify(*, phone: str, code: str) -> None:
    """Use up the phone's current code if ``code`` matches; every try counts, committed at once."""
    invalid = ApplicationError(_("The code is wrong or has expired."), field="code")
    now = timezone.now()
    current = (
        PhoneCode.objects.filter(phone=phone, used_at__isnull=True, expires_at__gt=now)
        .order_by("-created_at")
        .first()
    )
    if current is None:
        raise invalid
    counted = PhoneCode.objects.filter(
        pk=current.pk, used_at__isnull=True, attempts__lt=settings.OTP_MAX_ATTEMPTS
    ).update(attempts=F("attempts") + 1)
    if not counted:
        raise ApplicationError(
            _("Too many wrong codes. Ask for a new code."), field="code", code="invalid"
        )
    if not hmac.compare_digest(current.code_hash, _code_hash(phone, code)):
        raise invalid
    if not PhoneCode.objects.filter(pk=current.pk, used_at__isnull=True).update(used_at=now):
        raise invalid


def _is_adult(date_of_birth: dt.date, today: dt.date) -> bool:
    try:
        limit = today.replace(year=today.year - MINIMUM_AGE_YEARS)
    except ValueError:  # 29 February
        limit = today.replace(year=today.year - MINIMUM_AGE_YEARS, day=28)
    return date_of_birth <= limit


def volunteer_details_validate(
    *, date_of_birth: dt.date | None = None, first_aid_course_on: dt.date | None = None
) -> None:
    """Rules for the personal details a volunteer gives; raises before anything is written."""
    today = timezone.localdate()
    if date_of_birth is not None:
        if not _is_adult(date_of_birth, today):
            raise ApplicationError(
                _("You must be at least %(n)d years old.") % {"n": MINIMUM_AGE_YEARS},
                field="date_of_birth",
            )
        if date_of_birth.year < 1900:
            raise ApplicationError(_("Enter a real date of birth."), field="date_of_birth")
    if first_aid_course_on is not None and first_aid_course_on > today:
        raise ApplicationError(
            _("The course date cannot be in the future."), field="first_aid_course_on"
        )


def _consents_validate(terms_version: str, location_consent_version: str) -> None:
    if terms_version != settings.VOLUNTEER_TERMS_VERSION:
        raise ApplicationError(
            _("Accept the current terms (version %(v)s).")
            % {"v": settings.VOLUNTEER_TERMS_VERSION},
            field="terms_version",
        )
    if location_consent_version != settings.VOLUNTEER_LOCATION_CONSENT_VERSION:
        raise ApplicationError(
            _("Accept the current text on location processing (version %(v)s).")
            % {"v": settings.VOLUNTEER_LOCATION_CONSENT_VERSION},
            field="location_consent_version",
        )


def volunteer_sign_up(
    *,
    phone: str,
    code: str,
    first_name: str,
    last_name: str,
    date_of_birth: dt.date,
    terms_version: str,
    location_consent_version: str,
    first_aid_course_on: dt.date | None = None,
) -> Volunteer:
    """A new hjerteløber, verified by the code sent to their phone, with the consents given."""
    volunteer_details_validate(date_of_birth=date_of_birth, first_aid_course_on=first_aid_course_on)
    _consents_validate(terms_version, location_consent_version)
    phone_code_verify(phone=phone, code=code)
    with transaction.atomic():
        if Volunteer.objects.filter(phone=phone).exists():
            raise ApplicationError(
                _("This phone number is already registered: log in instead."),
                field="phone",
                code="exists",
            )
        user = get_user_model().objects.create_user(
            username=f"volunteer-{uuid.uuid4().hex[:24]}",
            first_name=first_name.strip(),
            last_name=last_name.strip(),
        )
        volunteer = Volunteer.objects.create(
            user=user,
            phone=phone,
            phone_verified_at=timezone.now(),
            date_of_birth=date_of_birth,
            first_aid_course_on=first_aid_course_on,
            is_heart_runner=True,
        )
        Consent.objects.bulk_create(
            [
                Consent(volunteer=volunteer, kind=Consent.Kind.TERMS, version=terms_version),
                Consent(
                    volunteer=volunteer,
                    kind=Consent.Kind.LOCATION,
                    version=location_consent_version,
                ),
            ]
        )
    return volunteer


def volunteer_log_in(*, phone: str, code: str) -> Volunteer:
    """The volunteer who owns the phone, once the code checks out; marks the phone verified."""
    phone_code_verify(phone=phone, code=code)
    volunteer = Volunteer.objects.select_related("user").filter(phone=phone).first()
    if volunteer is None or not volunteer.user.is_active:
        raise ApplicationError(
            _("No volunteer has this phone number: sign up first."), field="phone"
        )
    now = timezone.now()
    Volunteer.objects.filter(pk=volunteer.pk).update(phone_verified_at=now, updated_at=now)
    volunteer.phone_verified_at = now
    return volunteer


def auth_token_create(*, user) -> str:
    """A new token for one device (knox: only its hash is stored, and it expires)."""
    from knox.models import AuthToken

    _token, key = AuthToken.objects.create(user=user)
    return key


def volunteer_update(*, volunteer: Volunteer, data: dict) -> Volunteer:
    """Change what a volunteer may change about themselves; scheme and corps are for admins."""
    allowed = {
        "first_name",
        "last_name",
        "date_of_birth",
        "first_aid_course_on",
        "is_available",
        "quiet_hours_start",
        "quiet_hours_end",
    }
    unknown = set(data) - allowed
    if unknown:
        raise ApplicationError(_("This field cannot be changed."), field=sorted(unknown)[0])
    volunteer_details_validate(
        date_of_birth=data.get("date_of_birth"),
        first_aid_course_on=data.get("first_aid_course_on"),
    )
    start = data.get("quiet_hours_start", volunteer.quiet_hours_start)
    end = data.get("quiet_hours_end", volunteer.quiet_hours_end)
    if (start is None) != (end is None):
        raise ApplicationError(
            _("Give both the start and the end of the quiet hours, or neither."),
            field="quiet_hours_end" if end is None else "quiet_hours_start",
        )
    if start is not None and start == end:
        raise ApplicationError(
            _("The quiet hours must start and end at different times."), field="quiet_hours_end"
        )
    with transaction.atomic():
        user_fields = [f for f in ("first_name", "last_name") if f in data]
        for name in user_fields:
            setattr(volunteer.user, name, data[name].strip())
        if user_fields:
            volunteer.user.save(update_fields=user_fields)
        volunteer_fields = [f for f in data if f not in user_fields]
        for name in volunteer_fields:
            setattr(volunteer, name, data[name])
        if volunteer_fields:
            volunteer.save(update_fields=[*volunteer_fields, "updated_at"])
    return volunteer


class LocationOutcome(enum.Enum):
    STORED = "stored"
    OLDER = "older"  # an older reading than the stored one, arriving late: ignored
    TOO_SOON = "too_soon"  # within LOCATION_MIN_INTERVAL_S of the last stored one
    NO_PROFILE = "no_profile"
    UNAUTHENTICATED = "unauthenticated"  # only when identified by token


@dataclass(frozen=True)
class LocationResult:
    outcome: LocationOutcome
    retry_after_s: int = 0


# Who is reporting: the user the API already authenticated, or (the fast path) the knox token,
# checked here as knox.auth.TokenAuthentication does (digest, expiry, active user) and renewed
# as its AUTO_REFRESH does, so the request needs no other query.
_REPORTER_BY_USER = "SELECT %(user_id)s::integer AS user_id"
_REPORTER_BY_TOKEN = """
    SELECT t.user_id FROM knox_authtoken t JOIN auth_user u ON u.id = t.user_id
    WHERE t.digest = %(digest)s::text AND u.is_active
      AND (t.expiry IS NULL OR t.expiry >= %(now)s::timestamptz)
"""
_TOKEN_RENEWAL = """
    renewed AS (
        UPDATE knox_authtoken t
        SET expiry = LEAST(%(now)s::timestamptz + %(ttl)s::interval,
                           t.created + %(max_ttl)s::interval)
        WHERE t.digest = %(digest)s::text AND t.expiry IS NOT NULL AND %(auto_refresh)s::boolean
          AND EXISTS (SELECT 1 FROM reporter)
          AND LEAST(%(now)s::timestamptz + %(ttl)s::interval, t.created + %(max_ttl)s::interval)
              > t.expiry + %(min_refresh)s::interval
    ),
"""
_LOCATION_UPDATE_SQL = """
    WITH reporter AS ({reporter}),
    {renewal}
    me AS (
        SELECT v.location_received_at FROM volunteers_volunteer v
        WHERE v.user_id = (SELECT user_id FROM reporter)
    ),
    moved AS (
        UPDATE volunteers_volunteer
        SET location = ST_SetSRID(
                ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4326)::geography,
            location_updated_at = %(measured_at)s::timestamptz,
            location_accuracy_m = %(accuracy_m)s::integer,
            location_received_at = %(now)s::timestamptz,
            updated_at = %(now)s::timestamptz
        WHERE user_id = (SELECT user_id FROM reporter)
          AND (location_updated_at IS NULL
               OR location_updated_at <= %(measured_at)s::timestamptz)
          AND (location_received_at IS NULL
               OR location_received_at <= %(now)s::timestamptz - %(interval)s::interval)
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM reporter), EXISTS (SELECT 1 FROM me),
           (SELECT location_received_at FROM me), EXISTS (SELECT 1 FROM moved)
"""
_LOCATION_UPDATE_BY_USER = PreparedStatement(
    "volunteer_location_update_by_user",
    _LOCATION_UPDATE_SQL.format(reporter=_REPORTER_BY_USER, renewal=""),
)
_LOCATION_UPDATE_BY_TOKEN = PreparedStatement(
    "volunteer_location_update_by_token",
    _LOCATION_UPDATE_SQL.format(reporter=_REPORTER_BY_TOKEN, renewal=_TOKEN_RENEWAL),
)


def volunteer_location_update(
    *,
    lon: float,
    lat: float,
    measured_at: dt.datetime,
    accuracy_m: int,
    user_id: int | None = None,
    token_digest: str | None = None,
) -> LocationResult:
    """Keep only the latest position, at most one every LOCATION_MIN_INTERVAL_S: one statement,
    which also tells why nothing was stored (an older reading, too soon, no profile).

    The hottest write of the system (every app, every few minutes), prepared once per database
    session (config.postgis.prepared). Outside a transaction it commits without waiting for the
    WAL flush (``synchronous_commit`` off for this statement only): a crash can lose the last
    fraction of a second of positions, which the phones send again anyway, and the request does
    not queue behind the disk. Alerts, incidents and every other write keep the synchronous
    commit. Given ``token_digest`` instead of ``user_id``, it also authenticates the knox token
    (volunteers.fastpath).
    """
    from knox.settings import knox_settings

    now = timezone.now()
    interval = dt.timedelta(seconds=settings.LOCATION_MIN_INTERVAL_S)
    statement = _LOCATION_UPDATE_BY_USER if token_digest is None else _LOCATION_UPDATE_BY_TOKEN
    # One simple-protocol query string: PostgreSQL runs both statements as one implicit
    # transaction, so SET LOCAL applies to this UPDATE and ends with it.
    prefix = "" if connection.in_atomic_block else "SET LOCAL synchronous_commit TO OFF;"
    with connection.cursor() as cursor:
        statement.execute(
            cursor,
            {
                "user_id": user_id,
                "digest": token_digest,
                "lon": lon,
                "lat": lat,
                "measured_at": measured_at,
                "accuracy_m": accuracy_m,
                "now": now,
                "interval": interval,
                "auto_refresh": bool(knox_settings.AUTO_REFRESH),
                "ttl": knox_settings.TOKEN_TTL,
                "max_ttl": knox_settings.AUTO_REFRESH_MAX_TTL or dt.timedelta(days=36500),
                "min_refresh": dt.timedelta(seconds=knox_settings.MIN_REFRESH_INTERVAL),
            },
            prefix=prefix,
        )
        authenticated, has_profile, received_at, moved = cursor.fetchone()
    if not authenticated:
        return LocationResult(LocationOutcome.UNAUTHENTICATED)
    if not has_profile:
        return LocationResult(LocationOutcome.NO_PROFILE)
    if moved:
        return LocationResult(LocationOutcome.STORED)
    if received_at is not None and received_at > now - interval:
        wait = (received_at + interval - now).total_seconds()
        return LocationResult(LocationOutcome.TOO_SOON, retry_after_s=max(1, math.ceil(wait)))
    return LocationResult(LocationOutcome.OLDER)


def volunteer_location_clear(*, volunteer: Volunteer) -> None:
    Volunteer.objects.filter(pk=volunteer.pk).update(
        location=None, location_updated_at=None, location_accuracy_m=None, updated_at=timezone.now()
    )


def device_register(
    *, volunteer: Volunteer, push_token: str, platform: str, auth_token=None
) -> Device:
    """Register the app's push token; a token seen before moves to this volunteer (same phone)."""
    with transaction.atomic():
        device, _created = Device.objects.update_or_create(
            push_token=push_token,
            defaults={
                "volunteer": volunteer,
                "platform": platform,
                "auth_token": auth_token,
                "is_active": True,
                "last_seen_at": timezone.now(),
            },
        )
    return device


@transaction.atomic
def auth_token_revoke(*, auth_token) -> None:
    """Log a device out: its token stops working and its push token stops getting alerts."""
    Device.objects.filter(auth_token=auth_token).update(is_active=False)
    auth_token.delete()


def device_update(
    *, volunteer: Volunteer, device_id: int, push_token: str, platform: str | None = None
) -> Device:
    """Replace a device's push token (FCM rotates them)."""
    with transaction.atomic():
        device = (
            Device.objects.select_for_update().filter(pk=device_id, volunteer=volunteer).first()
        )
        if device is None:
            raise ApplicationError(_("No such device."), code="not_found")
        # A token another row holds belongs to this phone now: drop the stale row.
        Device.objects.filter(push_token=push_token).exclude(pk=device.pk).delete()
        device.push_token = push_token
        if platform:
            device.platform = platform
        device.is_active = True
        device.last_seen_at = timezone.now()
        device.save(update_fields=["push_token", "platform", "is_active", "last_seen_at"])
    return device


def device_delete(*, volunteer: Volunteer, device_id: int) -> None:
    deleted, _rows = Device.objects.filter(pk=device_id, volunteer=volunteer).delete()
    if not deleted:
        raise ApplicationError(_("No such device."), code="not_found")


def debrief_submit(
    *, volunteer: Volunteer, alert_id: int, outcome: str, comment: str = "", wants_call: bool
) -> Debrief:
    """How it went, after an alert the volunteer answered; one per alert, the latest wins."""
    from alerts.models import Alert

    alert = Alert.objects.filter(pk=alert_id, volunteer=volunteer).first()
    if alert is None:
        raise ApplicationError(_("No such alert."), code="not_found")
    if not alert.role and alert.state != Alert.State.DECLINED:
        raise ApplicationError(
            _("A debrief can be given for an alert you answered."), code="conflict"
        )
    debrief, _created = Debrief.objects.update_or_create(
        volunteer=volunteer,
        alert=alert,
        defaults={"outcome": outcome, "comment": comment.strip(), "wants_call": wants_call},
    )
    return debrief


def debriefs_mark_handled(*, debrief_ids: Iterable[int], user) -> int:
    return Debrief.objects.filter(pk__in=list(debrief_ids), handled=False).update(
        handled=True, handled_at=timezone.now(), handled_by=user
    )


def volunteer_delete(*, volunteer: Volunteer) -> None:
    """Erase the account: the person, devices, tokens, consents, debriefs and codes go; alerts
    stay for the statistics without identity (Alert.volunteer is SET_NULL) or position.

    Copies of the number, name and push token elsewhere go too: provider errors on the
    deliveries (Twilio's text names the number), the recorded outbox messages (demo and tests)
    and the admin's change log (it names the person). tests/security/test_privacy.py
    searches every text column of every table afterwards."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from alerts.models import Alert, AlertDelivery, OutboxMessage

    phone = str(volunteer.phone)
    with transaction.atomic():
        Alert.objects.filter(volunteer=volunteer).update(volunteer_location=None)
        AlertDelivery.objects.filter(alert__volunteer=volunteer).exclude(last_error="").update(
            last_error=""
        )
        tokens = list(
            Device.objects.filter(volunteer=volunteer).values_list("push_token", flat=True)
        )
        OutboxMessage.objects.filter(recipient__in=[phone, *tokens]).delete()
        user = volunteer.user
        for model, pk in ((Volunteer, volunteer.pk), (type(user), user.pk)):
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model), object_id=str(pk)
            ).delete()
        PhoneCode.objects.filter(phone=phone).delete()
        volunteer.delete()
        user.delete()


# Retention (Celery beat, volunteers/tasks.py).


def volunteer_locations_expire(*, now: dt.datetime | None = None) -> int:
    """Clear current locations older than LOCATION_RETENTION_S: no history, nothing stale."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.LOCATION_RETENTION_S)
    return Volunteer.objects.filter(location_updated_at__lt=cutoff).update(
        location=None, location_updated_at=None, location_accuracy_m=None, location_received_at=None
    )


def alert_locations_expire(*, now: dt.datetime | None = None) -> int:
    """Null the volunteer's position snapshot on alerts older than ALERT_LOCATION_RETENTION_DAYS."""
    from alerts.models import Alert

    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.ALERT_LOCATION_RETENTION_DAYS)
    return Alert.objects.filter(created_at__lt=cutoff, volunteer_location__isnull=False).update(
        volunteer_location=None
    )


def auth_records_cleanup(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete expired or used one-time codes and expired API tokens."""
    from knox.models import AuthToken

    now = now or timezone.now()
    codes, _rows = PhoneCode.objects.filter(
        Q(expires_at__lt=now) | Q(used_at__lt=now - dt.timedelta(hours=1))
    ).delete()
    tokens, _rows = AuthToken.objects.filter(expiry__lt=now).delete()
    return {"codes": codes, "tokens": tokens}
