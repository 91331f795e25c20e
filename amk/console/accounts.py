"""Logging in to the console and the admin (one flow): the password, then with
``OTP_REQUIRED`` a one-time code from an authenticator app (TOTP, django-otp), enrolled on
first login. The admin's login page sends here. Session status and keep-alive for the page's
idle warning (amk.console.sessions)."""

import django_otp
from django import forms
from django.conf import settings
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from amk.console.sessions import TIMEOUT_REASON_KEY, idle_remaining_s, session_touch
from amk.models.accounts import LoginEvent
from amk.services import accounts
from config.lockout import LockoutAuthenticationForm

TIMEOUT_REASONS = {
    "idle": gettext_lazy("You were logged out after a period without activity."),
    "shift": gettext_lazy("You were logged out: a session lasts at most one shift."),
}


class CodeForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("One-time code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url("amk:incident_list")


def _code_step(request: HttpRequest, view_name: str) -> HttpResponse:
    return redirect(reverse(view_name) + "?" + urlencode({"next": _next(request)}))


class ConsoleLoginView(LoginView):
    """The password step; a dispatcher or staff member then goes on to the code."""

    authentication_form = LockoutAuthenticationForm
    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        user = self.request.user
        if accounts.second_factor_required(user) and not _verified(user):
            name = "login_otp" if accounts.totp_device_confirmed(user) else "login_otp_enrol"
            return reverse(name) + "?" + urlencode({"next": self.get_redirect_url() or ""})
        return self.get_redirect_url() or resolve_url("amk:incident_list")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        reason = self.request.session.pop(TIMEOUT_REASON_KEY, "")
        context["timeout_reason"] = TIMEOUT_REASONS.get(
            reason or self.request.GET.get("reason", "")
        )
        return context


def _verified(user) -> bool:
    # Right after login() request.user is the bare user, without django-otp's is_verified().
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def _needs_code(request: HttpRequest) -> bool:
    return accounts.second_factor_required(request.user) and not _verified(request.user)


def _code_accepted(request: HttpRequest, form: CodeForm, device, wrong: str) -> bool:
    """A posted code that matches verifies the session; a wrong one is audited and shown."""
    if request.method != "POST" or not form.is_valid():
        return False
    if accounts.totp_verify(device=device, token=form.cleaned_data["token"]):
        django_otp.login(request, device)
        return True
    accounts.login_event_record(
        outcome=LoginEvent.Outcome.WRONG_OTP, request=request, user=request.user
    )
    form.add_error("token", wrong)
    return False


@never_cache
@require_http_methods(["GET", "POST"])
def login_otp(request: HttpRequest) -> HttpResponse:
    """The code step for a user with an enrolled authenticator."""
    if not request.user.is_authenticated:
        return redirect("login")
    if not _needs_code(request):
        return redirect(_next(request))
    device = accounts.totp_device_confirmed(request.user)
    if device is None:
        return _code_step(request, "login_otp_enrol")
    form = CodeForm(request.POST or None)
    if _code_accepted(request, form, device, _("Wrong or expired code. Try the code shown now.")):
        return redirect(_next(request))
    return render(request, "amk/accounts/login_otp.html", {"form": form, "next": _next(request)})


@never_cache
@require_http_methods(["GET", "POST"])
def login_otp_enrol(request: HttpRequest) -> HttpResponse:
    """First login with a second factor: the secret as a QR code and as text, then a code."""
    if not request.user.is_authenticated:
        return redirect("login")
    if not _needs_code(request):
        return redirect(_next(request))
    if accounts.totp_device_confirmed(request.user) is not None:
        return _code_step(request, "login_otp")
    device = accounts.totp_device_for_enrolment(request.user)
    form = CodeForm(request.POST or None)
    wrong = _("Wrong code. Check the clock of the phone and try again.")
    if _code_accepted(request, form, device, wrong):
        return redirect(_next(request))
    context = {
        "form": form,
        "next": _next(request),
        # segno's own SVG of our URL: no user text in it.
        "qr_svg": mark_safe(accounts.totp_qr_svg(device)),  # noqa: S308
        "secret": accounts.totp_secret_base32(device),
        "issuer": settings.OTP_TOTP_ISSUER,
    }
    return render(request, "amk/accounts/login_otp_enrol.html", context)


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin logs in through the console's login (the same lock-out and second factor)."""
    if request.user.is_authenticated and not request.user.is_staff:
        raise PermissionDenied
    target = request.GET.get("next") or reverse("admin:index")
    return redirect(reverse("login") + "?" + urlencode({"next": target}))


@never_cache
@require_http_methods(["GET", "POST"])
def session_status(request: HttpRequest) -> HttpResponse:
    """GET (sent as a poll): seconds left before the idle time-out. POST: "keep me logged in"."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("You were logged out.")}, status=401)
    if request.method == "POST":
        session_touch(request)
    return JsonResponse(
        {
            "idle_remaining_s": idle_remaining_s(request),
            "warning_s": settings.SESSION_IDLE_WARNING_S,
        }
    )
