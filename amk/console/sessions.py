"""The console's and the admin's sessions: idle and shift time-outs, and the second factor.

``SessionTimeoutMiddleware`` logs a session out ``SESSION_IDLE_TIMEOUT_S`` after the user's last
request, and ``SESSION_MAX_AGE_S`` after the login whatever happens (one shift). The board's and
the incident list's polling send ``X-Console-Poll: 1`` and do not count as activity, or the idle
time-out would never come while a board is open; instead the page warns ahead
(amk/static/amk/session.js, ``SESSION_IDLE_WARNING_S``) and one click keeps the session.

``SecondFactorMiddleware``: with ``OTP_REQUIRED``, a dispatcher or staff member who has given
the password but no one-time code yet reaches only the code's pages (and logout).
"""

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _

from amk.models.accounts import LoginEvent
from amk.services import accounts

POLL_HEADER = "X-Console-Poll"
TIMEOUT_REASON_KEY = "hja_timeout_reason"
# The idle clock is written at most this often (a session save per request is waste).
ACTIVE_GRANULARITY_S = 30
# Reachable between the password and the code.
SECOND_FACTOR_OPEN = {"login", "logout", "login_otp", "login_otp_enrol", "about", "healthz"}


def is_poll(request: HttpRequest) -> bool:
    return request.headers.get(POLL_HEADER) == "1"


def idle_remaining_s(request: HttpRequest, *, now: float | None = None) -> int:
    """Seconds until the idle time-out, as the session stands."""
    active = request.session.get(accounts.SESSION_ACTIVE_KEY)
    if active is None:
        return settings.SESSION_IDLE_TIMEOUT_S
    now = time.time() if now is None else now
    return max(0, int(settings.SESSION_IDLE_TIMEOUT_S - (now - active)))


def session_touch(request: HttpRequest, *, now: float | None = None) -> None:
    request.session[accounts.SESSION_ACTIVE_KEY] = time.time() if now is None else now


def _has_session(request: HttpRequest) -> bool:
    return settings.SESSION_COOKIE_NAME in request.COOKIES


class SessionTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_session(request) and request.user.is_authenticated:
            expired = self._check(request, time.time())
            if expired is not None:
                return expired
        return self.get_response(request)

    def _check(self, request: HttpRequest, now: float) -> HttpResponse | None:
        session = request.session
        started = session.get(accounts.SESSION_STARTED_KEY)
        active = session.get(accounts.SESSION_ACTIVE_KEY)
        if started is None or active is None:  # a session from before these clocks
            accounts.session_times_start(session, now=now)
            return None
        if now - started > settings.SESSION_MAX_AGE_S:
            reason = "shift"
        elif now - active > settings.SESSION_IDLE_TIMEOUT_S:
            reason = "idle"
        else:
            if not is_poll(request) and now - active >= ACTIVE_GRANULARITY_S:
                session_touch(request, now=now)
            return None
        accounts.login_event_record(
            outcome=LoginEvent.Outcome.TIMEOUT, request=request, user=request.user
        )
        request.session_timed_out = True
        logout(request)
        # Whichever request notices first (a poll, the page), the login page says why.
        request.session[TIMEOUT_REASON_KEY] = reason
        login_url = reverse("login") + "?" + urlencode({"reason": reason})
        if is_poll(request) or request.headers.get("Accept", "").startswith("application/json"):
            return JsonResponse(
                {"detail": _("You were logged out."), "login": login_url}, status=401
            )
        if request.method == "GET":
            login_url += "&" + urlencode({"next": request.get_full_path()})
        return redirect(login_url)


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.OTP_REQUIRED
            and _has_session(request)
            and request.user.is_authenticated
            and not request.user.is_verified()
            and not request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/"))
            and self._url_name(request) not in SECOND_FACTOR_OPEN
            and accounts.second_factor_required(request.user)
        ):
            if is_poll(request):
                return JsonResponse({"detail": _("A one-time code is needed.")}, status=401)
            query = urlencode({"next": request.get_full_path()})
            return redirect(reverse("login_otp") + "?" + query)
        return self.get_response(request)

    @staticmethod
    def _url_name(request: HttpRequest) -> str | None:
        try:
            return resolve(request.path_info).url_name
        except Resolver404:
            return None
