"""Start-up checks of the channel configuration.

A real provider switched on without its credentials must stop the process at start-up with the
name of what is missing, not fail on the first cardiac arrest:

- ``manage.py check``, ``runserver``, ``migrate`` and the other management commands run Django's
  system checks; the Error below makes them exit.
- ``celery worker`` runs the checks too (celery's Django fixup) but only logs them, so a
  ``worker_init`` receiver stops the worker with the same messages.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_init
from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured

from alerts.channels.base import PushBackend, SmsBackend, load_backend_class

logger = logging.getLogger(__name__)

CHANNELS = (
    ("SMS_BACKEND", SmsBackend, "alerts.E001"),
    ("PUSH_BACKEND", PushBackend, "alerts.E002"),
)


@register("channels")
def check_channel_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for setting_name, base, check_id in CHANNELS:
        try:
            backend_class = load_backend_class(setting_name, base)
        except ImproperlyConfigured as exc:
            messages.append(Error(str(exc), id=check_id))
            continue
        for problem in backend_class.configuration_errors():
            messages.append(
                Error(
                    f"{setting_name} is {backend_class.__module__}.{backend_class.__name__}, "
                    f"but {problem}.",
                    hint="Set the missing environment variables, or choose the outbox backend "
                    "(alerts.channels.outbox) outside production.",
                    id=check_id,
                )
            )
    if settings.LOGIN_CODE_BACKEND == "twilio-verify":
        missing = [
            name
            for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_VERIFY_SERVICE_SID")
            if not getattr(settings, name, "")
        ]
        if missing:
            messages.append(
                Error(
                    f"LOGIN_CODE_BACKEND is twilio-verify, but {', '.join(missing)} must be set.",
                    hint="Set them, or LOGIN_CODE_BACKEND=local.",
                    id="alerts.E003",
                )
            )
    return messages


@worker_init.connect(dispatch_uid="alerts.checks.stop_worker_on_channel_errors")
def stop_worker_on_channel_errors(**kwargs: Any) -> None:
    errors = [m for m in check_channel_settings() if m.is_serious()]
    if errors:
        text = "\n".join(str(message) for message in errors)
        logger.critical("Channel configuration is incomplete:\n%s", text)
        # SystemExit, because celery's signal dispatch logs and swallows Exception subclasses.
        raise SystemExit(f"Channel configuration is incomplete:\n{text}")
