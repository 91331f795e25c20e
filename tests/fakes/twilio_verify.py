"""A fake of Twilio's Verify API (v2): verifications started and checked, as the real ``twilio``
client calls them, with Twilio's JSON shapes and error codes. Served by FakeTwilio on the same
port (its paths start /v2/), with the same basic auth.

- ``POST /v2/Services/{ServiceSid}/Verifications`` (To, Channel, Locale): 201 with the
  verification, ``status`` "pending". A pending verification for the same number is reused
  (same sid, same code, one more send attempt); the sixth send within its life is 429/60203.
- ``POST /v2/Services/{ServiceSid}/VerificationCheck`` (To or VerificationSid, Code): 200 with
  ``status`` "approved" (valid) or "pending" (a wrong code); 404/20404 when no verification is
  pending (never started, expired, approved); 429/60202 after five checks.

The codes "sent" are recorded in ``sent`` (what the phone would receive from Verify's sender).
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.fakes.server import FakeRequest, FakeResponse, Recorder

DEFAULT_SERVICE_SID = "VA" + "fedcba9876543210" * 2
PATH = re.compile(r"^/v2/Services/(?P<service>[^/]+)/(?P<what>Verifications|VerificationCheck)$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
CHANNELS = {"sms", "call", "email", "whatsapp", "sna"}
LIFETIME = timedelta(minutes=10)
MAX_SENDS = 5
MAX_CHECKS = 5


@dataclass
class Verification:
    sid: str
    service_sid: str
    to: str
    channel: str
    code: str
    created: datetime
    sends: list[datetime] = field(default_factory=list)
    checks: int = 0
    status: str = "pending"


@dataclass(frozen=True)
class VerifySms:
    """One code Verify sent."""

    to: str
    code: str
    channel: str
    locale: str | None
    verification_sid: str


def _error(status: int, code: int, message: str) -> FakeResponse:
    return FakeResponse.json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeVerify:
    def __init__(self, account_sid: str, service_sid: str = DEFAULT_SERVICE_SID) -> None:
        self.account_sid = account_sid
        self.service_sid = service_sid
        self.sent: Recorder[VerifySms] = Recorder()
        self.checks: Recorder[tuple[str, str, str]] = Recorder()  # (to, code, status)
        self._pending: dict[str, Verification] = {}
        self._lock = threading.Lock()
        self.now = lambda: datetime.now(UTC)

    def reset(self) -> None:
        self.sent.clear()
        self.checks.clear()
        with self._lock:
            self._pending.clear()

    def code_for(self, to: str) -> str:
        """The code of the pending verification for a number (what the phone received)."""
        with self._lock:
            return self._pending[to].code

    def handle(self, request: FakeRequest) -> FakeResponse | None:
        """None when the path is not Verify's; the caller has checked the credentials."""
        match = PATH.match(request.path)
        if not match:
            return None
        if request.method != "POST":
            return _error(405, 20004, "Method not allowed")
        if match["service"] != self.service_sid:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        form = request.form()
        with self._lock:
            self._expire()
            if match["what"] == "Verifications":
                return self._start(form)
            return self._check(form)

    def _expire(self) -> None:
        now = self.now()
        for to in [to for to, v in self._pending.items() if now - v.created > LIFETIME]:
            del self._pending[to]

    def _start(self, form: dict[str, str]) -> FakeResponse:
        to, channel = form.get("To", ""), form.get("Channel", "")
        if not E164.match(to):
            return _error(400, 60200, "Invalid parameter `To`: " + to)
        if channel not in CHANNELS:
            return _error(400, 60200, "Invalid parameter: Channel")
        verification = self._pending.get(to)
        if verification is None:
            verification = Verification(
                sid="VE" + secrets.token_hex(16),
                service_sid=self.service_sid,
                to=to,
                channel=channel,
                code=f"{secrets.randbelow(10**6):06d}",
                created=self.now(),
            )
            self._pending[to] = verification
        elif len(verification.sends) >= MAX_SENDS:
            return _error(429, 60203, "Max send attempts reached")
        verification.sends.append(self.now())
        self.sent.append(
            VerifySms(to, verification.code, channel, form.get("Locale"), verification.sid)
        )
        return FakeResponse.json(201, self._resource(verification, with_sends=True))

    def _check(self, form: dict[str, str]) -> FakeResponse:
        code = form.get("Code", "")
        if "To" in form:
            verification = self._pending.get(form["To"])
        else:
            sid = form.get("VerificationSid", "")
            verification = next((v for v in self._pending.values() if v.sid == sid), None)
        if not code:
            return _error(400, 60200, "Invalid parameter: Code")
        if verification is None:
            return _error(
                404,
                20404,
                f"The requested resource /Services/{self.service_sid}/VerificationCheck "
                "was not found",
            )
        if verification.checks >= MAX_CHECKS:
            return _error(429, 60202, "Max check attempts reached")
        verification.checks += 1
        if secrets.compare_digest(code, verification.code):
            verification.status = "approved"
            del self._pending[verification.to]
        self.checks.append((verification.to, code, verification.status))
        return FakeResponse.json(200, self._resource(verification, with_sends=False))

    def _resource(self, v: Verification, *, with_sends: bool) -> dict[str, object]:
        body: dict[str, object] = {
            "sid": v.sid,
            "service_sid": v.service_sid,
            "account_sid": self.account_sid,
            "to": v.to,
            "channel": v.channel,
            "status": v.status,
            "valid": v.status == "approved",
            "amount": None,
            "payee": None,
            "date_created": _time(v.created),
            "date_updated": _time(self.now()),
        }
        if with_sends:
            body["lookup"] = {}
            body["sna"] = None
            body["send_code_attempts"] = [
                {
                    "attempt_sid": f"VL{secrets.token_hex(16)}",
                    "channel": v.channel,
                    "time": _time(t),
                }
                for t in v.sends
            ]
            body["url"] = (
                f"https://verify.twilio.com/v2/Services/{v.service_sid}/Verifications/{v.sid}"
            )
        else:
            body["sna_attempts_error_codes"] = []
        return body
