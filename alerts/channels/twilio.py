"""SMS through Twilio's Messages API with the official ``twilio`` client.

Settings: ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_FROM`` (a sender number or
alphanumeric id, or a Messaging Service SID ``MG...``), ``TWILIO_API_BASE`` (default
``https://api.twilio.com``; tests point it at ``tests.fakes``), ``TWILIO_TIMEOUT_S``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from alerts.channels.base import (
    OutcomeUnknownError,
    PermanentChannelError,
    SmsBackend,
    SmsMessage,
    TransientChannelError,
)

logger = logging.getLogger(__name__)
# twilio's HTTP client logs ten INFO lines per request; keep them out of INFO logs unless the
# LOGGING setting asks for this logger explicitly.
http_logger = logging.getLogger("alerts.channels.twilio.http")
if http_logger.level == logging.NOTSET:
    http_logger.setLevel(logging.WARNING)

DEFAULT_API_BASE = "https://api.twilio.com"
DEFAULT_TIMEOUT_S = 5.0
# Twilio accepts ValidityPeriod from 1 to 36000 seconds.
MAX_VALIDITY_S = 36000
# Twilio error codes that mean "try again later" whatever the HTTP status says.
TRANSIENT_CODES = frozenset({20429})  # Too Many Requests


def messaging_service_sid(sender: str) -> bool:
    return sender.startswith("MG") and len(sender) == 34


class TwilioSmsBackend(SmsBackend):
    @classmethod
    def configuration_errors(cls) -> list[str]:
        missing = [
            name
            for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
            if not getattr(settings, name, "")
        ]
        if missing:
            return [f"{', '.join(missing)} must be set to send SMS through Twilio"]
        return []

    # Safe because every thread has its own client (see _client).
    thread_safe = True

    def __init__(self) -> None:
        super().__init__()
        self.sender: str = settings.TWILIO_FROM
        self._local = threading.local()
        self._clients: list[Client] = []
        self._clients_lock = threading.Lock()

    def _client(self) -> Client:
        """This thread's client. Not one shared by all: TwilioHttpClient.request() stores each
        response on the client and returns it from there, so two threads sending at once
        could each get the other's message id."""
        client = getattr(self._local, "client", None)
        if client is None:
            http_client = TwilioHttpClient(
                timeout=float(getattr(settings, "TWILIO_TIMEOUT_S", DEFAULT_TIMEOUT_S)),
                pool_connections=True,
                logger=http_logger,
            )
            client = Client(
                settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client
            )
            # Every request of the Messages API is built by the ``Api`` domain as
            # ``domain.base_url + uri`` (twilio.base.domain.Domain.absolute_url), so setting the
            # domain's ``base_url`` redirects exactly this API and nothing else. (The client's
            # edge/region options only rewrite the *.twilio.com host name.)
            client.api.base_url = getattr(settings, "TWILIO_API_BASE", "") or DEFAULT_API_BASE
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def warm_up(self) -> None:
        self._client()

    def send(self, message: SmsMessage) -> str:
        kwargs: dict[str, object] = {"to": message.to, "body": message.body}
        sender = message.sender or self.sender
        if messaging_service_sid(sender):
            kwargs["messaging_service_sid"] = sender
        else:
            kwargs["from_"] = sender
        if message.validity_s is not None:
            # Real Twilio honours ValidityPeriod only for a Messaging Service sender; it is sent
            # anyway so the limit applies as soon as TWILIO_FROM is a service.
            kwargs["validity_period"] = min(message.validity_s, MAX_VALIDITY_S)
        if message.status_callback_url:
            kwargs["status_callback"] = message.status_callback_url
        try:
            sent = self._client().messages.create(**kwargs)
        except TwilioRestException as exc:
            raise error_from_twilio(exc) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise OutcomeUnknownError(f"Twilio did not answer in time: {exc}") from exc
        except requests.exceptions.Timeout as exc:
            raise TransientChannelError(f"Twilio timed out: {exc}") from exc
        except requests.exceptions.ConnectionError as exc:
            raise TransientChannelError(f"Twilio unreachable: {exc}") from exc
        except requests.exceptions.RequestException as exc:
            raise TransientChannelError(f"Twilio request failed: {exc}") from exc
        return sent.sid

    def find_sent(self, message: SmsMessage, *, since: dt.datetime) -> str | None:
        """Twilio's message log, searched for this text to this number since then."""
        try:
            sent = self._client().messages.list(to=message.to, date_sent_after=since, limit=50)
        except (TwilioRestException, requests.exceptions.RequestException) as exc:
            raise TransientChannelError(f"Twilio message log unavailable: {exc}") from exc
        return next((m.sid for m in sent if m.body == message.body), None)

    def close(self) -> None:
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            session = getattr(client.http_client, "session", None)
            if session is not None:
                session.close()


def error_from_twilio(exc: TwilioRestException) -> TransientChannelError | PermanentChannelError:
    """Sort a Twilio API error: 5xx and rate limits are transient, other 4xx permanent.

    Permanent examples: 21211 invalid 'To' number, 21610 recipient unsubscribed (STOP),
    21614 'To' is not a mobile number, 20003 wrong credentials.
    """
    status = int(exc.status or 0)
    message = f"Twilio refused the message: {exc.msg}"
    if status >= 500 or status == 429 or exc.code in TRANSIENT_CODES or status == 0:
        return TransientChannelError(message, status=status or None, code=exc.code)
    return PermanentChannelError(message, status=status, code=exc.code)


def validate_twilio_signature(
    url: str, params: object, signature: str | None, *, algorithm: str | None = None
) -> bool:
    """Whether a webhook request (status callback, incoming SMS) really comes from Twilio.

    ``url`` is the full URL Twilio requested (scheme, host, path and query as Twilio saw them),
    ``params`` the POST form (a dict or Django ``QueryDict``), ``signature`` the
    ``X-Twilio-Signature`` header. ``algorithm`` comes from the
    ``X-Twilio-Webhooks-Signature-Settings`` header (see twilio.request_validator), default
    HMAC-SHA1 with the auth token.
    """
    token = getattr(settings, "TWILIO_AUTH_TOKEN", "")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(url, params, signature, algorithm=algorithm)
