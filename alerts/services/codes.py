"""The one-time login code: checked against the SMS budget, queued, issued by the volunteers'
registry and sent by SMS from its own sender (``SMS_CODE_FROM``, by default the alerts' one),
or, with LOGIN_CODE_BACKEND = "twilio-verify", made and sent by Twilio Verify
(volunteers.services.code_verify)."""

from django.conf import settings
from django.utils.translation import gettext as _

from alerts import enqueue
from alerts.channels.base import SmsMessage, get_sms_backend
from volunteers.services.accounts import phone_code_issue, phone_code_issue_verified
from volunteers.services.code_budget import code_budget_take, code_destination_validate
from volunteers.services.code_verify import verify_enabled


def login_code_request(*, phone: str) -> None:
    """Accept a code request (allowed destination, within the budget) and queue the SMS."""
    code_destination_validate(phone=phone)
    code_budget_take(phone=phone)
    enqueue.login_code_send_on_commit(phone=phone)


def login_code_send(*, phone: str) -> None:
    """Send a fresh one-time code to a phone; earlier unused codes for it stop working."""
    if verify_enabled():
        phone_code_issue_verified(phone=phone)
        return
    code = phone_code_issue(phone=phone)
    minutes = max(1, settings.OTP_TTL_S // 60)
    body = _("Your Hjertealarm code is %(code)s. It expires in %(minutes)d minutes.") % {
        "code": code,
        "minutes": minutes,
    }
    get_sms_backend().send(
        SmsMessage(
            to=phone,
            body=body,
            validity_s=settings.OTP_TTL_S,
            sender=settings.SMS_CODE_FROM or None,
        )
    )
