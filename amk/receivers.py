"""amk's receivers of Django's login signals: every login, failure and logout of the console
and the admin goes into the audit (amk.models.accounts.LoginEvent); a login starts the
session's clocks (amk.console.sessions). Connected in ``AmkConfig.ready``."""

import time

from django.contrib.auth import signals
from django.dispatch import receiver

from amk.models.accounts import LoginEvent
from amk.services import accounts


@receiver(signals.user_logged_in, dispatch_uid="amk-login-audit")
def _logged_in(sender, request, user, **kwargs):
    if request is None:
        return
    if hasattr(request, "session"):
        accounts.session_times_start(request.session, now=time.time())
    if getattr(request, "META", None) is not None and request.META.get("REMOTE_ADDR"):
        # force_login in tests has a bare request; real logins carry the client's address.
        accounts.login_event_record(outcome=LoginEvent.Outcome.SUCCESS, request=request, user=user)


@receiver(signals.user_login_failed, dispatch_uid="amk-login-failure-audit")
def _login_failed(sender, credentials, request=None, **kwargs):
    locked = getattr(request, "login_refused_by_lockout", False)
    accounts.login_event_record(
        outcome=LoginEvent.Outcome.LOCKED if locked else LoginEvent.Outcome.WRONG_PASSWORD,
        request=request,
        username=str(credentials.get("username") or ""),
    )


@receiver(signals.user_logged_out, dispatch_uid="amk-logout-audit")
def _logged_out(sender, request, user, **kwargs):
    if user is None or getattr(request, "session_timed_out", False):
        return  # a time-out is recorded as one by the middleware
    accounts.login_event_record(outcome=LoginEvent.Outcome.LOGOUT, request=request, user=user)
