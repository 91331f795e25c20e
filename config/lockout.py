"""Login lock-out for the console and the admin.

Failed password logins are counted in the cache per (username, client IP: the real client
address, config.client_ip) and per username;
past the limit, ``LockoutModelBackend`` refuses even the right password until the window has
passed, for the console's login and the admin's alike. The console's login form says so in
(``LockoutAuthenticationForm``) instead of "wrong password".

From the dispatch centre's networks (``DISPATCH_NETWORKS``) the lock-out never applies: failures
from there are counted like any other (and audited by amk), but a right password always gets
in, so 200 wrong passwords sent from outside cannot keep a dispatcher out of the console.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging

from django.conf import settings
from django.contrib.auth import get_user_model, signals
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from config.client_ip import client_ip

logger = logging.getLogger(__name__)

LOCKED_OUT_MESSAGE = _(
    "Too many failed log-in attempts. The account is locked for now; try again in "
    "%(minutes)d minutes, or ask the duty officer or an administrator for access now."
)


def _client_ip(request) -> str:
    if request is None:
        return "-"
    return client_ip(request)


def from_dispatch_network(request) -> bool:
    """True when the real client address is inside one of ``DISPATCH_NETWORKS``."""
    networks = settings.DISPATCH_NETWORKS
    if request is None or not networks:
        return False
    address = _client_ip(request)
    if address == "-":
        return False
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in networks)


def _key(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"login-fail:{digest}"


def _keys(username: str, request) -> tuple[str, str]:
    name = (username or "").strip().lower()
    return _key("user+ip", name, _client_ip(request)), _key("user", name)


def _limits() -> tuple[int, int, int]:
    return (
        settings.LOGIN_LOCKOUT_FAILURES,
        settings.LOGIN_LOCKOUT_FAILURES_PER_USER,
        settings.LOGIN_LOCKOUT_WINDOW_S,
    )


def login_locked_out(username: str, request) -> bool:
    """Whether a login for ``username`` from this request is refused now, right password or not."""
    if from_dispatch_network(request):
        return False
    per_ip, per_user, _window = _limits()
    pair_key, user_key = _keys(username, request)
    try:
        counts = cache.get_many([pair_key, user_key])
    except Exception:  # Redis down: dispatchers must still get in (fail open, logged)
        logger.warning("login lock-out unavailable: cache unreachable", exc_info=True)
        return False
    return counts.get(pair_key, 0) >= per_ip or counts.get(user_key, 0) >= per_user


def login_failure_record(username: str, request) -> None:
    _per_ip, _per_user, window = _limits()
    try:
        for key in _keys(username, request):
            # add() starts the window; incr() never extends it, so a lock-out ends on time.
            if not cache.add(key, 1, timeout=window):
                try:
                    cache.incr(key)
                except ValueError:  # expired between add() and incr()
                    cache.add(key, 1, timeout=window)
    except Exception:
        logger.warning("login failure not counted: cache unreachable", exc_info=True)


def login_failures_clear(username: str, request) -> None:
    pair_key, _user_key = _keys(username, request)
    try:
        cache.delete(pair_key)
    except Exception:
        logger.warning("login failures not cleared: cache unreachable", exc_info=True)


@receiver(signals.user_login_failed)
def _on_login_failed(sender, credentials, request=None, **kwargs):
    username = credentials.get("username") or ""
    if username and not getattr(request, "login_refused_by_lockout", False):
        login_failure_record(username, request)


@receiver(signals.user_logged_in)
def _on_logged_in(sender, request, user, **kwargs):
    login_failures_clear(user.get_username(), request)


class LockoutModelBackend(ModelBackend):
    """ModelBackend that refuses every password while the (username, IP) pair is locked out."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if username and login_locked_out(str(username), request):
            if request is not None:  # the failure this causes is not counted again
                request.login_refused_by_lockout = True
            raise PermissionDenied  # stops authenticate() here; no other backend is asked
        return super().authenticate(request, username=username, password=password, **kwargs)

    @staticmethod
    def _username_field() -> str:
        return get_user_model().USERNAME_FIELD


class LockoutAuthenticationForm(AuthenticationForm):
    """The console's login form: a locked-out user is told so, not 'wrong password'."""

    def clean(self):
        # The refusal goes through authenticate(), so it is announced (user_login_failed, with
        # request.login_refused_by_lockout set) like any failure, and audited as one.
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, "login_refused_by_lockout", False):
                raise ValidationError(
                    LOCKED_OUT_MESSAGE % {"minutes": max(1, settings.LOGIN_LOCKOUT_WINDOW_S // 60)},
                    code="locked_out",
                ) from None
            raise
