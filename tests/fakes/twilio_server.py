"""A fake of Twilio's Messages API (2010-04-01) and its signed status callbacks; the Verify API
(v2) on the same server (tests.fakes.twilio_verify)."""

from __future__ import annotations

import base64
import re
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from twilio.request_validator import RequestValidator

from tests.fakes.server import FakeProvider, FakeRequest, FakeResponse, Recorder, call_later
from tests.fakes.twilio_verify import FakeVerify

DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

ERRORS = {
    # status: (Twilio code, message)
    401: (20003, "Authenticate"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    502: (20500, "Bad Gateway"),
    503: (20503, "Service Unavailable"),
}


def error_body(status: int, code: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass(frozen=True)
class TwilioSms:
    """One message the fake accepted, as Twilio received it."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    validity_period: int | None
    form: dict[str, str] = field(repr=False)
    date_created: datetime = field(repr=False)


class FakeTwilio(FakeProvider):
    """``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth (sid, token).

    Faults beyond ``faults``: ``invalid_numbers`` answer 400 code 21211,
    ``unsubscribed_numbers`` 400 code 21610. ``auto_status_callbacks`` (e.g.
    ``("sent", "delivered")``) are posted to each message's StatusCallback after
    ``callback_delay_s``, like Twilio does.
    """

    def __init__(
        self,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        seed: int = 0,
        auto_status_callbacks: tuple[str, ...] = (),
        callback_delay_s: float = 0.2,
    ) -> None:
        super().__init__(seed=seed)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.auto_status_callbacks = auto_status_callbacks
        self.callback_delay_s = callback_delay_s
        self.invalid_numbers: set[str] = set()
        self.unsubscribed_numbers: set[str] = set()
        self.messages: Recorder[TwilioSms] = Recorder()
        self.callbacks: Recorder[tuple[str, str, int]] = Recorder()  # (sid, status, http status)
        self._by_sid: dict[str, TwilioSms] = {}
        self._by_sid_lock = threading.Lock()
        self.verify = FakeVerify(account_sid)

    def reset(self) -> None:
        super().reset()
        self.verify.reset()
        self.invalid_numbers.clear()
        self.unsubscribed_numbers.clear()
        self.auto_status_callbacks = ()
        self.messages.clear()
        self.callbacks.clear()
        with self._by_sid_lock:
            self._by_sid.clear()

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[TwilioSms]:
        return self.messages.wait_for(count, timeout)

    # The API
    def handle(self, request: FakeRequest) -> FakeResponse | None:
        if request.path.startswith("/v2/"):
            if not self._authorised(request, self.account_sid):
                return self._error(401)
            if self.should_fail(request.path):
                return self._error(self.faults.error_status)
            return self.verify.handle(request)
        match = MESSAGES_PATH.match(request.path)
        if not match:
            return None
        if request.method not in ("GET", "POST"):
            return FakeResponse.json(405, error_body(405, 20004, "Method not allowed"))
        if not self._authorised(request, match["sid"]):
            return self._error(401)
        if request.method == "GET":
            return self._list(dict(urllib.parse.parse_qsl(request.query)))
        form = request.form()
        if self.should_fail(form.get("To", "")):
            if not self.delay():
                return self._error(503)
            return self._error(self.faults.error_status)
        problem = self._invalid(form)
        if problem:
            return problem
        # Like a slow Twilio: the message is taken, the answer is late (and may time out).
        response = self._accept(form)
        if not self.delay():
            return self._error(503)
        return response

    def _list(self, query: dict[str, str]) -> FakeResponse:
        """``GET Messages.json?To=…&DateSent>=…``: the messages sent, newest first."""
        since = query.get("DateSent>")
        since_at = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        found = [
            sms
            for sms in reversed(self.messages.all())
            if sms.to == query.get("To", sms.to)
            and (since_at is None or sms.date_created >= since_at)
        ]
        page_size = int(query.get("PageSize", 50))
        return FakeResponse.json(
            200,
            {
                "messages": [self._resource(sms) for sms in found[:page_size]],
                "end": max(0, min(len(found), page_size) - 1),
                "first_page_uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages.json",
                "next_page_uri": None,
                "page": 0,
                "page_size": page_size,
                "previous_page_uri": None,
                "start": 0,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages.json",
            },
        )

    def _authorised(self, request: FakeRequest, path_sid: str) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return False
        return (
            secrets.compare_digest(user, self.account_sid)
            and secrets.compare_digest(password, self.auth_token)
            and path_sid == self.account_sid
        )

    def _error(self, status: int) -> FakeResponse:
        code, message = ERRORS.get(status, (20500, "Internal Server Error"))
        return FakeResponse.json(status, error_body(status, code, message))

    def _invalid(self, form: dict[str, str]) -> FakeResponse | None:
        to = form.get("To", "")
        if not to:
            return FakeResponse.json(
                400, error_body(400, 21604, "A 'To' phone number is required.")
            )
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return FakeResponse.json(
                400, error_body(400, 21603, "A 'From' phone number is required.")
            )
        if not form.get("Body"):
            return FakeResponse.json(400, error_body(400, 21602, "Message body is required."))
        if to in self.invalid_numbers or not E164.match(to):
            return FakeResponse.json(
                400, error_body(400, 21211, f"Invalid 'To' Phone Number: {to}")
            )
        if to in self.unsubscribed_numbers:
            return FakeResponse.json(
                400,
                error_body(400, 21610, "Attempt to send to unsubscribed recipient"),
            )
        validity = form.get("ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36000):
            return FakeResponse.json(
                400, error_body(400, 21623, f"Invalid ValidityPeriod: {validity}")
            )
        return None

    def _accept(self, form: dict[str, str]) -> FakeResponse:
        sid = "SM" + secrets.token_hex(16)
        now = datetime.now(UTC)
        validity = form.get("ValidityPeriod")
        sms = TwilioSms(
            sid=sid,
            account_sid=self.account_sid,
            to=form["To"],
            from_=form.get("From"),
            messaging_service_sid=form.get("MessagingServiceSid"),
            body=form["Body"],
            status_callback=form.get("StatusCallback"),
            validity_period=int(validity) if validity else None,
            form=form,
            date_created=now,
        )
        with self._by_sid_lock:
            self._by_sid[sid] = sms
        self.messages.append(sms)
        if self.auto_status_callbacks and sms.status_callback:
            statuses = self.auto_status_callbacks

            def post_all() -> None:
                for status in statuses:
                    self.send_status_callback(sid, status)

            call_later(self.callback_delay_s, post_all)
        return FakeResponse.json(201, self._resource(sms))

    def _resource(self, sms: TwilioSms) -> dict[str, object]:
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sms.sid}"
        segments = max(1, -(-len(sms.body) // 153)) if len(sms.body) > 160 else 1
        created = format_datetime(sms.date_created, usegmt=True)
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": sms.body,
            "date_created": created,
            "date_sent": created,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sms.from_,
            "messaging_service_sid": sms.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": sms.sid,
            # A message sent through a Messaging Service starts "accepted".
            "status": "accepted" if sms.messaging_service_sid else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": sms.to,
            "uri": f"{uri}.json",
        }

    # Status callbacks (Twilio → us), signed like Twilio signs them.
    def sign(self, url: str, params: dict[str, str]) -> str:
        """The X-Twilio-Signature Twilio would send for this POST."""
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def status_callback_request(
        self, message_sid: str, status: str, *, error_code: str | None = None
    ) -> tuple[str, dict[str, str], str]:
        """(url, form, signature) of the status callback for a recorded message."""
        with self._by_sid_lock:
            sms = self._by_sid[message_sid]
        if not sms.status_callback:
            raise ValueError(f"message {message_sid} has no StatusCallback")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": sms.from_ or "+4570000000",
            "MessageSid": message_sid,
            "MessageStatus": status,
            "SmsSid": message_sid,
            "SmsStatus": status,
            "To": sms.to,
        }
        if sms.messaging_service_sid:
            params["MessagingServiceSid"] = sms.messaging_service_sid
        if error_code:
            params["ErrorCode"] = error_code
        return sms.status_callback, params, self.sign(sms.status_callback, params)

    def send_status_callback(
        self, message_sid: str, status: str, *, error_code: str | None = None
    ) -> int:
        """POST the signed callback to the message's StatusCallback; returns the HTTP status."""
        url, params, signature = self.status_callback_request(
            message_sid, status, error_code=error_code
        )
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(params).encode("utf-8"),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
                "User-Agent": "TwilioProxy/1.1",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        self.callbacks.append((message_sid, status, code))
        return code
