"""Who makes and checks the login codes of the volunteers' app (issue 15, point 1).

``LOGIN_CODE_BACKEND``:
- ``local`` (the default): our own code, only its keyed hash stored, sent by SMS through the SMS
  backend from ``SMS_CODE_FROM`` (volunteers.services.accounts, alerts.services.codes);
- ``twilio-verify``: Twilio Verify makes the code, sends it from the Verify service's sender and
  checks it (``TWILIO_VERIFY_SERVICE_SID``, with ``TWILIO_ACCOUNT_SID``/``TWILIO_AUTH_TOKEN``;
  ``TWILIO_VERIFY_API_BASE`` for tests). The SMS budget applies before anything is sent either
  way, and our own attempt limit and lifetime still apply to each code.
"""

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

LOGIN_CODE_BACKENDS = ("local", "twilio-verify")
LOGIN_CODE_BACKEND = env.str("LOGIN_CODE_BACKEND", default="local")
if LOGIN_CODE_BACKEND not in LOGIN_CODE_BACKENDS:
    raise ImproperlyConfigured(
        f"LOGIN_CODE_BACKEND must be one of {', '.join(LOGIN_CODE_BACKENDS)}, "
        f"not {LOGIN_CODE_BACKEND!r}"
    )
TWILIO_VERIFY_SERVICE_SID = env.str("TWILIO_VERIFY_SERVICE_SID", default="")
if LOGIN_CODE_BACKEND == "twilio-verify" and not TWILIO_VERIFY_SERVICE_SID:
    raise ImproperlyConfigured(
        "LOGIN_CODE_BACKEND is twilio-verify: set TWILIO_VERIFY_SERVICE_SID (VA...)"
    )
TWILIO_VERIFY_API_BASE = env.str("TWILIO_VERIFY_API_BASE", default="https://verify.twilio.com")
