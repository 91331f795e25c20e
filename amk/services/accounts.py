"""The console's accounts: the demo's dispatcher and administrator, the login audit, and the
second factor (TOTP) of dispatchers and staff."""

import base64
import io
from datetime import datetime, timedelta

import segno
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from amk.access import DISPATCHERS_GROUP, user_is_dispatcher
from amk.models.accounts import LoginEvent
from config.client_ip import client_ip
from config.lockout import from_dispatch_network


@transaction.atomic
def demo_accounts_ensure(*, dispatcher_password: str, admin_password: str) -> None:
    """The demo's dispatcher and administrator; passwords are (re)set so the printed ones work."""
    user_model = get_user_model()
    dispatchers, _ = Group.objects.get_or_create(name=DISPATCHERS_GROUP)
    dispatcher, _ = user_model.objects.get_or_create(
        username="dispatcher", defaults={"first_name": "Demo", "last_name": "Disponent"}
    )
    dispatcher.set_password(dispatcher_password)
    dispatcher.save(update_fields=["password"])
    dispatcher.groups.add(dispatchers)
    admin, _ = user_model.objects.get_or_create(
        username="admin", defaults={"email": "admin@example.dk"}
    )
    admin.is_staff = admin.is_superuser = True
    admin.set_password(admin_password)
    admin.save(update_fields=["password", "is_staff", "is_superuser"])


# --- The login audit ----------------------------------------------------------------------------


def login_event_record(
    *,
    outcome: str,
    request: HttpRequest | None,
    user: User | None = None,
    username: str = "",
) -> LoginEvent:
    """One line of the login audit, with the real client address (config.client_ip)."""
    address = client_ip(request) if request is not None else "-"
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    if user is not None and user.pk is None:
        user = None
    name = user.get_username() if user is not None else (username or "").strip()
    return LoginEvent.objects.create(
        user=user,
        username=name[: LoginEvent.USERNAME_MAX],
        ip=None if address == "-" else address,
        user_agent=agent[: LoginEvent.USER_AGENT_MAX],
        outcome=outcome,
        from_dispatch_network=from_dispatch_network(request),
    )


def login_events_expire(*, now: datetime | None = None) -> int:
    """Delete the audit lines older than ``LOGIN_EVENT_RETENTION_DAYS``; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.LOGIN_EVENT_RETENTION_DAYS)
    deleted, _ = LoginEvent.objects.filter(at__lt=cutoff).delete()
    return deleted


# --- The second factor (TOTP) -------------------------------------------------------------------


def second_factor_required(user: AbstractBaseUser) -> bool:
    """Dispatchers and staff need a one-time code after the password when OTP_REQUIRED."""
    if not settings.OTP_REQUIRED or not user.is_authenticated:
        return False
    return bool(getattr(user, "is_staff", False)) or user_is_dispatcher(user)


def totp_device_confirmed(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


@transaction.atomic
def totp_device_for_enrolment(user: User) -> TOTPDevice:
    """The user's unconfirmed device, made once, so a reload shows the same secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Hjertealarm", confirmed=False)
    return device


def totp_secret_base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code (no third party sees the secret)."""
    buffer = io.BytesIO()
    segno.make(device.config_url, error="m").save(
        buffer, kind="svg", xmldecl=False, svgns=True, scale=5, border=2
    )
    return buffer.getvalue().decode()


@transaction.atomic
def totp_verify(*, device: TOTPDevice, token: str) -> bool:
    """Check a code (django-otp throttles repeated failures); a first right code confirms."""
    token = "".join(ch for ch in token if ch.isdigit())
    if not token or not device.verify_token(token):
        return False
    if not device.confirmed:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        # One device per user: older unconfirmed ones go.
        TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
    return True


# --- Session times (read by amk.console.sessions) -----------------------------------------------

SESSION_STARTED_KEY = "hja_session_started"
SESSION_ACTIVE_KEY = "hja_session_active"


def session_times_start(session, *, now: float) -> None:
    """A new login: the shift's clock and the idle clock start now."""
    session[SESSION_STARTED_KEY] = now
    session[SESSION_ACTIVE_KEY] = now
