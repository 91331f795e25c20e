"""Volunteers' accounts: one-time codes by SMS, sign-up, login, API tokens, the profile a
volunteer may change, erasure, and the retention of expired codes and tokens."""

import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata
import uuid

from django.conf import settings
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from knox.models import AuthToken

from config.exceptions import ApplicationError
from volunteers.models import MINIMUM_AGE_YEARS, CodeSend, Consent, Device, PhoneCode, Volunteer
from volunteers.services.code_budget import code_sends_expire, phone_digest
from volunteers.services.code_verify import VERIFY_PREFIX, verification_check, verification_start
from volunteers.signals import volunteer_erasing

OTP_DIGITS = 6
NAME_MAX_LENGTH = 60
# Besides letters of any script (and their combining accents): spaces, hyphens, apostrophes
# (straight and typographic) and periods, as in "Anne-Marie", "O'Brien" and "Jr.".
_NAME_PUNCTUATION = frozenset(" -'’.")


def _code_hash(phone: str, code: str) -> str:
    """A keyed hash: a leaked table does not give the codes away (10⁶ guesses need the key)."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def phone_code_issue(*, phone: str) -> str:
    """A fresh one-time code for a phone, stored only as its keyed hash; earlier unused codes for
    the phone stop working. The caller sends it (alerts.services.codes.login_code_send)."""
    code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
    now = timezone.now()
    PhoneCode.objects.filter(phone=phone, used_at__isnull=True).update(used_at=now)
    PhoneCode.objects.create(
        phone=phone,
        code_hash=_code_hash(phone, code),
        expires_at=now + dt.timedelta(seconds=settings.OTP_TTL_S),
    )
    return code


def phone_code_issue_verified(*, phone: str) -> None:
    """Start a Twilio Verify verification for the phone (it sends the code) and keep its row,
    so our lifetime and attempt limit apply; earlier unused codes for the phone stop working."""
    sid = verification_start(phone=phone)
    now = timezone.now()
    PhoneCode.objects.filter(phone=phone, used_at__isnull=True).update(used_at=now)
    PhoneCode.objects.create(
        phone=phone,
        code_hash=f"{VERIFY_PREFIX}{sid}",
        expires_at=now + dt.timedelta(seconds=settings.OTP_TTL_S),
    )


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
    if current.code_hash.startswith(VERIFY_PREFIX):
        if not verification_check(phone=phone, code=code):
            raise invalid
    elif not hmac.compare_digest(current.code_hash, _code_hash(phone, code)):
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


def volunteer_name_clean(value: str, *, field: str) -> str:
    """A first or last name, trimmed: 1-60 letters of any script, spaces, hyphens, apostrophes
    and periods. Anything else (markup, digits, control characters, emoji, URLs) is refused
    with the field named, before anything is written."""
    name = unicodedata.normalize("NFC", value.strip())
    if not name:
        raise ApplicationError(_("Enter a name."), field=field, code="blank")
    if len(name) > NAME_MAX_LENGTH:
        raise ApplicationError(
            _("A name can be at most %(n)d characters long.") % {"n": NAME_MAX_LENGTH},
            field=field,
            code="max_length",
        )
    for char in name:
        if char in _NAME_PUNCTUATION or unicodedata.category(char)[0] in "LM":
            continue
        raise ApplicationError(
            _(
                "A name can only contain letters, spaces, hyphens, apostrophes and periods"
                " (not %(char)s)."
            )
            % {"char": repr(char)},
            field=field,
        )
    if not any(unicodedata.category(char)[0] == "L" for char in name):
        raise ApplicationError(_("A name must contain a letter."), field=field)
    return name


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
    first_name = volunteer_name_clean(first_name, field="first_name")
    last_name = volunteer_name_clean(last_name, field="last_name")
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
            first_name=first_name,
            last_name=last_name,
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
    data = dict(data)
    for name in ("first_name", "last_name"):
        if name in data:
            data[name] = volunteer_name_clean(data[name], field=name)
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
            setattr(volunteer.user, name, data[name])
        if user_fields:
            volunteer.user.save(update_fields=user_fields)
        volunteer_fields = [f for f in data if f not in user_fields]
        for name in volunteer_fields:
            setattr(volunteer, name, data[name])
        if volunteer_fields:
            volunteer.save(update_fields=[*volunteer_fields, "updated_at"])
    return volunteer


@transaction.atomic
def auth_token_revoke(*, auth_token) -> None:
    """Log a device out: its token stops working and its push token stops getting alerts."""
    Device.objects.filter(auth_token=auth_token).update(is_active=False)
    auth_token.delete()


def volunteer_delete(*, volunteer: Volunteer, erased_by: User | None = None) -> None:
    """Erase the account: the person, devices, tokens, consents, debriefs and codes go; alerts
    stay for the statistics without identity (Alert.volunteer is SET_NULL) or position.

    Copies of the number, name and push token elsewhere go too: the apps above scrub theirs on
    ``volunteer_erasing``, sent inside the transaction before anything is deleted (alerts: the
    position snapshots, provider errors on the deliveries, the recorded outbox messages), and
    the admin's change log goes here (it names the person). An erasure by an administrator
    (``erased_by``) leaves one entry naming who erased which account number, and nothing of the
    person. tests/security/test_privacy.py searches every text column of every table afterwards."""
    phone = str(volunteer.phone)
    with transaction.atomic():
        tokens = list(
            Device.objects.filter(volunteer=volunteer).values_list("push_token", flat=True)
        )
        volunteer_erasing.send(
            sender=Volunteer, volunteer=volunteer, phone=phone, push_tokens=tokens
        )
        user = volunteer.user
        for model, pk in ((Volunteer, volunteer.pk), (type(user), user.pk)):
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model), object_id=str(pk)
            ).delete()
        PhoneCode.objects.filter(phone=phone).delete()
        CodeSend.objects.filter(phone_digest=phone_digest(phone)).delete()
        volunteer_id = volunteer.pk
        volunteer.delete()
        user.delete()
        if erased_by is not None:
            LogEntry.objects.create(
                user=erased_by,
                content_type=ContentType.objects.get_for_model(Volunteer),
                object_id=str(volunteer_id),
                object_repr=f"#{volunteer_id}",
                action_flag=DELETION,
                change_message=_("Account erased"),
            )


def auth_records_cleanup(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete expired or used one-time codes, expired API tokens and the SMS budget's records
    older than a day."""
    now = now or timezone.now()
    codes, _rows = PhoneCode.objects.filter(
        Q(expires_at__lt=now) | Q(used_at__lt=now - dt.timedelta(hours=1))
    ).delete()
    tokens, _rows = AuthToken.objects.filter(expiry__lt=now).delete()
    return {"codes": codes, "tokens": tokens, "code_sends": code_sends_expire(now=now)}
