"""The channel interface: SMS and push backends chosen by settings, like Django's email backends.

``SMS_BACKEND`` and ``PUSH_BACKEND`` are dotted paths to a backend class. A backend is built once
per process (``get_sms_backend()`` / ``get_push_backend()``) and reused; ``reset_backends()``
drops the cached instances, and it runs by itself whenever a channel setting changes (tests that
use pytest-django's ``settings`` fixture or ``override_settings`` get fresh backends).

Errors are sorted for the caller (the delivery task):
``TransientChannelError``: retry later with backoff (5xx, 429, timeouts, connection refused);
``PermanentChannelError``: do not retry, fall back (invalid number, 4xx);
``UnregisteredTokenError``: permanent, and the push token is dead: deactivate the device.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """One SMS. ``validity_s``: drop it if the provider cannot hand it on within this time."""

    to: str
    body: str
    validity_s: int | None = None
    status_callback_url: str | None = None
    sender: str | None = None  # None: the backend's own (TWILIO_FROM)

    def __post_init__(self) -> None:
        if not E164_RE.match(self.to):
            raise InvalidRecipientError(
                f"SmsMessage.to must be an E.164 number like +4512345678: {self.to!r}"
            )
        if not self.body:
            raise ValueError("SmsMessage.body must not be empty")
        if self.validity_s is not None and self.validity_s < 1:
            raise ValueError("SmsMessage.validity_s must be at least 1 second")


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One push notification to one device. ``data`` values are strings (FCM requires it)."""

    token: str
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)
    ttl_s: int = 600
    # The phone shows one notification per collapse id: a message sent again replaces the first.
    collapse_id: str = ""

    def __post_init__(self) -> None:
        if not self.token:
            raise InvalidRecipientError("PushMessage.token must not be empty")
        bad = [k for k, v in self.data.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise ValueError(f"PushMessage.data keys and values must be strings: {bad!r}")
        if self.ttl_s < 0:
            raise ValueError("PushMessage.ttl_s must not be negative")


class ChannelError(Exception):
    """A message could not be handed to the provider.

    ``status`` is the provider's HTTP status if there was a response, ``code`` its own error
    code (Twilio's numeric code, FCM's errorCode), both for logs and ``AlertDelivery.last_error``.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code not in (None, ""):
            parts.append(f"code {self.code}")
        return " | ".join(parts)


class TransientChannelError(ChannelError):
    """Worth retrying with backoff: provider overloaded or unreachable, timeouts, rate limits."""


class OutcomeUnknownError(TransientChannelError):
    """The request went out but no answer came back: the provider may have taken the message.

    Resending blindly could alert someone twice; the caller reconciles first where it can.
    """


class PermanentChannelError(ChannelError):
    """Retrying will not help (invalid number, rejected request): fail fast and fall back."""


class UnregisteredTokenError(PermanentChannelError):
    """The push token is no longer valid; the caller deactivates the device."""


class InvalidRecipientError(PermanentChannelError, ValueError):
    """The number or token cannot be addressed at all; raised when the message is built."""


class ChannelBackend:
    """What every channel backend shares: a start-up configuration check and a close hook."""

    # Whether send() may run in several threads at once (the deliveries of a batch leave
    # together); a backend that writes to the database, or whose client is not safe, sends
    # one message after another.
    thread_safe = False

    @classmethod
    def configuration_errors(cls) -> list[str]:
        """What is missing from the settings for this backend to work; [] when ready."""
        return []

    def __init__(self) -> None:
        errors = self.configuration_errors()
        if errors:
            raise ImproperlyConfigured(f"{type(self).__name__}: " + "; ".join(errors))

    def warm_up(self) -> None:
        """Do the slow first-use work (credentials, connections) before the first message."""

    def close(self) -> None:
        """Release connections; called when the cached backend is dropped."""


class SmsBackend(ChannelBackend, ABC):
    """Sends one SMS; returns the provider's message id (used to match status callbacks)."""

    @abstractmethod
    def send(self, message: SmsMessage) -> str: ...

    def find_sent(self, message: SmsMessage, *, since: dt.datetime) -> str | None:
        """The id of this very message (same text, same number) if the provider took it since
        then, else None. Backends that cannot look it up return None: the message goes again.
        """
        return None


class PushBackend(ChannelBackend, ABC):
    """Sends one push notification; returns the provider's message id."""

    @abstractmethod
    def send(self, message: PushMessage) -> str: ...


def load_backend_class(setting_name: str, base: type) -> type:
    """The class named by a ``*_BACKEND`` setting, checked to be a subclass of ``base``."""
    path = getattr(settings, setting_name, "")
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{setting_name}={path!r} cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ImproperlyConfigured(f"{setting_name}={path!r} is not a {base.__name__} subclass")
    return cls


_lock = threading.Lock()
_backends: dict[str, Any] = {}


def _get(setting_name: str, base: type) -> Any:
    backend = _backends.get(setting_name)
    if backend is None:
        with _lock:
            backend = _backends.get(setting_name)
            if backend is None:
                backend = load_backend_class(setting_name, base)()
                _backends[setting_name] = backend
    return backend


def get_sms_backend() -> SmsBackend:
    """The process's SMS backend, built from ``SMS_BACKEND`` on first use."""
    return _get("SMS_BACKEND", SmsBackend)


def get_push_backend() -> PushBackend:
    """The process's push backend, built from ``PUSH_BACKEND`` on first use."""
    return _get("PUSH_BACKEND", PushBackend)


def warm_up_backends() -> None:
    """Build both backends and warm them, so that no alert pays for it (a worker process
    calls this when it starts). Best effort: a provider that cannot be reached yet is retried
    by the first send, as without warming."""
    for backend in (get_sms_backend(), get_push_backend()):
        try:
            backend.warm_up()
        except Exception:
            logger.warning("Warming up %s failed", type(backend).__name__, exc_info=True)


def reset_backends() -> None:
    """Close and forget the cached backends; the next ``get_*_backend()`` builds new ones."""
    with _lock:
        backends = list(_backends.values())
        _backends.clear()
    for backend in backends:
        backend.close()


CHANNEL_SETTING_PREFIXES = ("SMS_", "PUSH_", "TWILIO_", "FCM_", "FIREBASE_")


@receiver(setting_changed, dispatch_uid="alerts.channels.reset_backends")
def _reset_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(CHANNEL_SETTING_PREFIXES):
        reset_backends()
