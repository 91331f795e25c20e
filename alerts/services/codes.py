"""The one-time login code: issued by the volunteers' registry, sent here by SMS."""

from django.conf import settings
from django.utils.translation import gettext as _

from alerts.channels.base import SmsMessage, get_sms_backend
from volunteers.services.accounts import phone_code_issue


def login_code_send(*, phone: str) -> None:
    """Send a fresh one-time code to a phone; earlier unused codes for it stop working."""
    code = phone_code_issue(phone=phone)
    minutes = max(1, settings.OTP_TTL_S // 60)
    body = _("Your Hjertealarm code is %(code)s. It expires in %(minutes)d minutes.") % {
        "code": code,
        "minutes": minutes,
    }
    get_sms_backend().send(SmsMessage(to=phone, body=body, validity_s=settings.OTP_TTL_S))
