"""Push through Firebase Cloud Messaging (HTTP v1) with the official ``firebase-admin`` client.

Settings: ``FIREBASE_CREDENTIALS_FILE`` (a service-account JSON; the project id comes from it),
``FCM_API_BASE`` (default ``https://fcm.googleapis.com``; tests point it at ``tests.fakes``),
``FCM_TIMEOUT_S``. The OAuth token exchange goes to the service account's own ``token_uri``,
which is how tests redirect it too.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path

import firebase_admin
import google.auth.exceptions
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from firebase_admin import credentials, exceptions, messaging
from urllib3.util.retry import Retry

from alerts.channels.base import (
    OutcomeUnknownError,
    PermanentChannelError,
    PushBackend,
    PushMessage,
    TransientChannelError,
    UnregisteredTokenError,
)

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://fcm.googleapis.com"
DEFAULT_TIMEOUT_S = 5.0
SERVICE_ACCOUNT_FIELDS = ("type", "project_id", "private_key", "client_email", "token_uri")

# HTTP-level retries: one immediate retry when the connection cannot be opened (nothing was sent,
# so no duplicate alert); none on read errors, 500 or 503. firebase-admin's default (up to 4
# retries with 7 s of backoff, honouring Retry-After) would hold the worker through most of the
# push-receipt timeout before the SMS fallback; the delivery task retries transient errors with
# its own backoff and counts the attempts instead.
HTTP_RETRY = Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0)


def service_account_problem(path: str) -> str | None:
    """Why ``path`` is not a usable service-account file, or None when it is."""
    if not path:
        return "FIREBASE_CREDENTIALS_FILE must be set to send push through FCM"
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        return f"FIREBASE_CREDENTIALS_FILE={path!r} cannot be read: {exc.strerror or exc}"
    except ValueError as exc:
        return f"FIREBASE_CREDENTIALS_FILE={path!r} is not JSON: {exc}"
    if not isinstance(info, dict):
        return f"FIREBASE_CREDENTIALS_FILE={path!r} is not a service-account JSON object"
    missing = [name for name in SERVICE_ACCOUNT_FIELDS if not info.get(name)]
    if missing:
        return (
            f"FIREBASE_CREDENTIALS_FILE={path!r} is not a service-account key: "
            f"{', '.join(missing)} missing"
        )
    if info["type"] != "service_account":
        return f"FIREBASE_CREDENTIALS_FILE={path!r} has type {info['type']!r}, not service_account"
    return None


class FcmPushBackend(PushBackend):
    # One HTTP session for all threads, as firebase-admin's own send_each() does.
    thread_safe = True

    @classmethod
    def configuration_errors(cls) -> list[str]:
        problem = service_account_problem(getattr(settings, "FIREBASE_CREDENTIALS_FILE", ""))
        return [problem] if problem else []

    def __init__(self) -> None:
        super().__init__()
        timeout = float(getattr(settings, "FCM_TIMEOUT_S", DEFAULT_TIMEOUT_S))
        api_base = (getattr(settings, "FCM_API_BASE", "") or DEFAULT_API_BASE).rstrip("/")
        try:
            credential = credentials.Certificate(settings.FIREBASE_CREDENTIALS_FILE)
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(f"FIREBASE_CREDENTIALS_FILE: {exc}") from exc
        # A named app of our own (not the default app), so several backends (tests rebuild
        # them) and other Firebase users in the process never share state.
        self.app = firebase_admin.initialize_app(
            credential,
            options={"httpTimeout": timeout},
            name=f"hjertealarm-push-{uuid.uuid4().hex}",
        )
        self.project_id = self.app.project_id
        self._service = messaging._get_messaging_service(self.app)  # noqa: SLF001  pinned, tests/test_patched_internals.py
        # firebase-admin has no public option or emulator variable for the FCM endpoint: the
        # per-app messaging service formats the class constant _MessagingService.FCM_URL with
        # the project id into its ``_fcm_url`` when it is created, and send() posts there.
        # Setting that one attribute on *our app's* service (instead of patching the class
        # constant) redirects only this backend, keeps the library's request building, auth,
        # headers and error parsing, and leaves other apps alone. If a firebase-admin upgrade
        # renames it, fail loudly here rather than silently sending to Google from tests.
        if not hasattr(self._service, "_fcm_url"):
            raise ImproperlyConfigured(
                "This firebase-admin version has no _MessagingService._fcm_url; "
                "FCM_API_BASE cannot be applied (see alerts/channels/fcm.py)."
            )
        self._service._fcm_url = f"{api_base}/v1/projects/{self.project_id}/messages:send"  # noqa: SLF001  pinned, tests/test_patched_internals.py
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=10, pool_maxsize=32, max_retries=HTTP_RETRY
        )
        # The most specific mount prefix wins over the library's http(s):// adapters.
        self._service._client.session.mount(api_base, adapter)  # noqa: SLF001  pinned, tests/test_patched_internals.py
        self.api_base = api_base

    def build_message(self, message: PushMessage) -> messaging.Message:
        collapse = message.collapse_id or None
        apns_headers = {
            "apns-priority": "10",
            "apns-push-type": "alert",
            "apns-expiration": str(int(time.time()) + message.ttl_s),
        }
        if collapse:
            apns_headers["apns-collapse-id"] = collapse
        built = messaging.Message(
            data=dict(message.data),
            notification=messaging.Notification(title=message.title, body=message.body),
            android=messaging.AndroidConfig(
                priority="high",
                ttl=message.ttl_s,
                collapse_key=collapse,
                notification=messaging.AndroidNotification(tag=collapse) if collapse else None,
            ),
            apns=messaging.APNSConfig(
                headers=apns_headers,
                payload=messaging.APNSPayload(
                    aps=messaging.Aps(content_available=True, sound="default")
                ),
            ),
        )
        # Devices register FCM registration tokens, which v1 takes as message.token.
        # firebase-admin 7.x deprecates the ``token=`` argument in favour of Firebase
        # Installation IDs (``fid``) and warns on every message; the encoder still sends the
        # attribute, so it is set after construction to keep the logs clean.
        built.token = message.token
        return built

    def send(self, message: PushMessage) -> str:
        try:
            return messaging.send(self.build_message(message), app=self.app)
        except exceptions.FirebaseError as exc:
            raise error_from_firebase(exc) from exc
        except google.auth.exceptions.TransportError as exc:
            raise TransientChannelError(f"FCM token endpoint unreachable: {exc}") from exc
        except google.auth.exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise TransientChannelError(f"FCM token refresh failed: {exc}") from exc
            raise PermanentChannelError(f"FCM credentials refused: {exc}") from exc

    def warm_up(self) -> None:
        """The OAuth token exchange (a signed JWT and a round trip) before the first push."""
        self.app.credential.get_access_token()

    def close(self) -> None:
        try:
            firebase_admin.delete_app(self.app)  # closes the service's async client
        except (ValueError, RuntimeError):  # already deleted / inside a running event loop
            logger.debug("Firebase app %s not cleanly deleted", self.app.name, exc_info=True)
        try:
            self._service._client.close()  # noqa: SLF001  pinned, tests/test_patched_internals.py
        except Exception:  # a best-effort close of a pooled session
            logger.debug("FCM HTTP session not cleanly closed", exc_info=True)


def _error_code(exc: exceptions.FirebaseError) -> str:
    """FCM's errorCode from the v1 error details, else the canonical status (NOT_FOUND, ...)."""
    response = exc.http_response
    if response is not None:
        try:
            error = response.json().get("error", {})
            for detail in error.get("details", []):
                if detail.get("errorCode"):
                    return str(detail["errorCode"])
            if error.get("status"):
                return str(error["status"])
        except (ValueError, AttributeError):
            pass
    return str(exc.code)


def error_from_firebase(exc: exceptions.FirebaseError) -> Exception:
    """Sort an FCM error: dead tokens, transient trouble, everything else permanent."""
    response = exc.http_response
    status = getattr(response, "status_code", None)
    code = _error_code(exc)
    text = f"FCM refused the message: {exc}"
    if isinstance(exc, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return UnregisteredTokenError(text, status=status, code=code)
    if isinstance(exc, exceptions.InvalidArgumentError) and "registration token" in str(exc):
        # "The registration token is not a valid FCM registration token": the token is garbage,
        # which for the caller is the same as unregistered.
        return UnregisteredTokenError(text, status=status, code=code)
    if isinstance(exc, exceptions.DeadlineExceededError) and isinstance(
        exc.cause, requests.exceptions.ReadTimeout
    ):
        return OutcomeUnknownError(text, status=status, code=code)
    if isinstance(
        exc,
        exceptions.UnavailableError
        | exceptions.InternalError
        | exceptions.DeadlineExceededError
        | exceptions.ResourceExhaustedError,  # includes messaging.QuotaExceededError (429)
    ):
        return TransientChannelError(text, status=status, code=code)
    if status is None or status >= 500 or status == 429:
        # No HTTP response (a transport error) or an unlisted 5xx such as 502.
        return TransientChannelError(text, status=status, code=code)
    return PermanentChannelError(text, status=status, code=code)
