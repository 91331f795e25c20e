"""The SMS budget for login codes: which numbers may get one, and how many may go.

Codes go only to mobile numbers of the countries in ``SMS_CODE_COUNTRIES`` (Denmark by
default). Every code accepted for sending is a ``CodeSend`` row (the number as a keyed digest),
counted per number (``SMS_CODE_PER_NUMBER_HOUR``, ``SMS_CODE_PER_NUMBER_DAY``) and for everyone
(``SMS_CODE_GLOBAL_PER_HOUR``) under one advisory lock, so concurrent requests cannot overshoot.
The global cap logs an operator alarm (``logger.critical``) and refuses further codes.
"""

import datetime as dt
import hashlib
import hmac
import logging

import phonenumbers
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config.exceptions import ApplicationError
from volunteers.models import CodeSend

logger = logging.getLogger(__name__)

_LOCK_ID = 0x48_4A_41_53  # pg_advisory_xact_lock key of the code budget ("HJAS")
_MOBILE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
_ALARM_EVERY_S = 300


def phone_digest(phone: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"code-budget:{phone}".encode(), hashlib.sha256).hexdigest()


def code_destination_validate(*, phone: str) -> None:
    """Refuse, naming the field, a number that is not a mobile of an allowed country."""
    try:
        number = phonenumbers.parse(phone, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ApplicationError(_("Enter a valid phone number."), field="phone") from exc
    region = phonenumbers.region_code_for_number(number)
    if region not in settings.SMS_CODE_COUNTRIES:
        raise ApplicationError(
            _("Codes are sent only to mobile numbers from: %(countries)s.")
            % {"countries": ", ".join(settings.SMS_CODE_COUNTRIES)},
            field="phone",
        )
    if phonenumbers.number_type(number) not in _MOBILE:
        raise ApplicationError(_("Codes are sent only to mobile numbers."), field="phone")


def code_budget_take(*, phone: str, now: dt.datetime | None = None) -> None:
    """Count one code for ``phone``, or refuse it (per number: 429, everyone: 503)."""
    now = now or timezone.now()
    digest = phone_digest(phone)
    hour_ago = now - dt.timedelta(hours=1)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
        everyone = CodeSend.objects.filter(created_at__gte=hour_ago).count()
        if everyone >= settings.SMS_CODE_GLOBAL_PER_HOUR:
            _alarm(everyone)
            raise ApplicationError(
                _("No codes can be sent right now. Try again later."), code="budget"
            )
        mine = CodeSend.objects.filter(
            phone_digest=digest, created_at__gte=now - dt.timedelta(days=1)
        ).aggregate(day=Count("id"), hour=Count("id", filter=Q(created_at__gte=hour_ago)))
        if (
            mine["hour"] >= settings.SMS_CODE_PER_NUMBER_HOUR
            or mine["day"] >= settings.SMS_CODE_PER_NUMBER_DAY
        ):
            raise ApplicationError(
                _("Too many codes for this number. Try again later."), field="phone", code="quota"
            )
        CodeSend.objects.create(phone_digest=digest)


def _alarm(count: int) -> None:
    try:
        first = cache.add("sms-code-budget-alarm", 1, timeout=_ALARM_EVERY_S)
    except Exception:  # the cache down: alarm every time rather than never
        first = True
    if first:
        logger.critical(
            "SMS code budget exhausted: %d login codes in the last hour (cap "
            "SMS_CODE_GLOBAL_PER_HOUR=%d); further codes are refused until the hour passes. "
            "Possible SMS pumping: check the code requests and the Twilio account.",
            count,
            settings.SMS_CODE_GLOBAL_PER_HOUR,
        )


def code_sends_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the budget's records older than a day (the longest window counted)."""
    now = now or timezone.now()
    deleted, _rows = CodeSend.objects.filter(created_at__lt=now - dt.timedelta(days=1)).delete()
    return deleted
