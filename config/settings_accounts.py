"""Settings for the console's and the admin's accounts: lock-out, second factor, sessions, audit.

Production defaults are strict; APP_MODE demo and test turn the second factor off so the demo's
printed accounts log in with their password alone (tests that cover the second factor turn it
on with override_settings).
"""

import environ
from django.core.exceptions import ImproperlyConfigured

from config.client_ip import trusted_proxies_parse

env = environ.Env()
_LOCAL = env.str("APP_MODE", default="production") in {"demo", "test"}

# Lock-out (config/lockout.py): after LOGIN_LOCKOUT_FAILURES failed passwords for one username
# from one IP, or LOGIN_LOCKOUT_FAILURES_PER_USER from anywhere, logins for it are refused for
# LOGIN_LOCKOUT_WINDOW_S (console and admin alike), except from DISPATCH_NETWORKS.
AUTHENTICATION_BACKENDS = ["config.lockout.LockoutModelBackend"]
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
LOGIN_LOCKOUT_FAILURES_PER_USER = env.int("LOGIN_LOCKOUT_FAILURES_PER_USER", default=50)
LOGIN_LOCKOUT_WINDOW_S = env.int("LOGIN_LOCKOUT_WINDOW_S", default=15 * 60)
# The dispatch centre's networks (CIDR, comma-separated; the real client address of
# config.client_ip): from there a right password is never refused by the lock-out, so an
# attacker outside cannot lock a dispatcher out. Failures from there are still counted and
# audited. Empty: no network is exempt.
try:
    _networks = trusted_proxies_parse(env.str("DISPATCH_NETWORKS", default=""))
except ValueError as exc:
    raise ImproperlyConfigured(f"DISPATCH_NETWORKS must be CIDR networks: {exc}") from exc
if isinstance(_networks, int) and _networks:
    raise ImproperlyConfigured("DISPATCH_NETWORKS must be CIDR networks (e.g. 10.20.0.0/16)")
DISPATCH_NETWORKS = _networks or ()

# Second factor (TOTP, django-otp) for dispatchers and staff, after the password, on the
# console's login (the admin's login is the same page).
OTP_REQUIRED = env.bool("OTP_REQUIRED", default=not _LOCAL)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Hjertealarm")
# The admin lists devices (to delete a lost phone's) but never shows their secret keys.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Sessions of the console and the admin (amk.console.sessions, after django-otp's middleware in
# MIDDLEWARE, then the second factor's gate): logged out after
# SESSION_IDLE_TIMEOUT_S without a request from the user (the board's polling does not count)
# and SESSION_MAX_AGE_S after the login whatever happens (one shift). The board warns
# SESSION_IDLE_WARNING_S ahead.
SESSION_IDLE_TIMEOUT_S = env.int("SESSION_IDLE_TIMEOUT_S", default=15 * 60)
SESSION_MAX_AGE_S = env.int("SESSION_MAX_AGE_S", default=12 * 3600)
SESSION_IDLE_WARNING_S = env.int("SESSION_IDLE_WARNING_S", default=2 * 60)
SESSION_COOKIE_AGE = SESSION_MAX_AGE_S
SESSION_COOKIE_SECURE = not _LOCAL
SESSION_COOKIE_HTTPONLY = True

# The log of logins, failures and logouts (amk.models.accounts.LoginEvent), kept this long.
LOGIN_EVENT_RETENTION_DAYS = env.int("LOGIN_EVENT_RETENTION_DAYS", default=180)
