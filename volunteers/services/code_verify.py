"""Login codes through Twilio Verify (settings LOGIN_CODE_BACKEND = "twilio-verify"): Twilio
makes the code, sends it from the Verify service's sender and checks it, through the official
``twilio`` client (``client.verify.v2.services(sid)``).

The rest stays ours: the SMS budget is taken before a verification is started, and each
verification has its PhoneCode row (its hash field names the verification), so our lifetime
(OTP_TTL_S) and attempt limit (OTP_MAX_ATTEMPTS) apply as they do to our own codes.
"""

import logging
import threading

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from config.exceptions import ApplicationError

logger = logging.getLogger(__name__)

# PhoneCode.code_hash of a code Twilio Verify holds: this prefix and the verification's sid.
VERIFY_PREFIX = "twilio-verify:"
NOT_PENDING = 20404  # no pending verification: never started, expired or already approved
MAX_CHECKS_REACHED = 60202

_local = threading.local()


def verify_enabled() -> bool:
    return settings.LOGIN_CODE_BACKEND == "twilio-verify"


def _service():
    """This thread's Verify service (TwilioHttpClient keeps its last response on itself, so a
    client is not shared between threads), rebuilt when the settings change (tests)."""
    key = (
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_VERIFY_API_BASE,
        settings.TWILIO_VERIFY_SERVICE_SID,
    )
    cached = getattr(_local, "service", None)
    if cached is None or cached[0] != key:
        client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=TwilioHttpClient(timeout=float(settings.TWILIO_TIMEOUT_S)),
        )
        # Requests of the Verify domain are built as base_url + uri: only Verify is redirected.
        client.verify.base_url = settings.TWILIO_VERIFY_API_BASE
        cached = (key, client.verify.v2.services(settings.TWILIO_VERIFY_SERVICE_SID))
        _local.service = cached
    return cached[1]


def verification_start(*, phone: str) -> str:
    """Ask Twilio Verify to send a code by SMS; returns the verification's sid. Provider errors
    propagate (the queued send logs them; the volunteer asks again)."""
    verification = _service().verifications.create(
        to=phone, channel="sms", locale=settings.LANGUAGE_CODE[:2]
    )
    return verification.sid


def verification_check(*, phone: str, code: str) -> bool:
    """Whether Twilio approves ``code`` for the phone's pending verification."""
    try:
        check = _service().verification_checks.create(to=phone, code=code)
    except TwilioRestException as exc:
        if exc.status == 404 or exc.code in (NOT_PENDING, MAX_CHECKS_REACHED):
            return False
        logger.error("Twilio Verify refused a check: %s %s", exc.status, exc.code)
        raise _unavailable() from exc
    except requests.exceptions.RequestException as exc:
        logger.error("Twilio Verify unreachable: %s", exc)
        raise _unavailable() from exc
    return check.status == "approved"


def _unavailable() -> ApplicationError:
    return ApplicationError(
        _("The code cannot be checked just now. Try again in a moment."),
        field="code",
        code="unavailable",
    )
