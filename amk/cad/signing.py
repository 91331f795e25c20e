"""The signature of the callbacks to a CAD, and the check a CAD makes of them.

A callback is a POST of a JSON body with the headers ``X-Hjertealarm-Timestamp`` (Unix seconds)
and ``X-Hjertealarm-Signature`` (``v1=`` and the hex HMAC-SHA256, under the system's callback
secret, of ``"<timestamp>.<body>"``). ``callback_verify`` is what a CAD runs on receipt: it
needs only Python's standard library, so a CAD may copy this module as it is.
"""

import hashlib
import hmac
import json
import time
from collections.abc import MutableMapping
from typing import Any

TIMESTAMP_HEADER = "X-Hjertealarm-Timestamp"
SIGNATURE_HEADER = "X-Hjertealarm-Signature"
EVENT_HEADER = "X-Hjertealarm-Event-Id"
_VERSION = "v1"


class CallbackRejectedError(Exception):
    """A callback to refuse; ``reason`` is "malformed", "forged", "expired" or "replayed"."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def callback_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for a body sent at ``timestamp``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"{_VERSION}={digest}"


def callback_verify(
    *,
    secret: str,
    timestamp: str,
    signature: str,
    body: bytes,
    seen: MutableMapping[str, float] | None = None,
    window_s: int = 300,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a received callback and return its body, parsed; raise CallbackRejectedError.

    - forged: the signature does not match the body and timestamp under the secret;
    - expired: the timestamp is more than ``window_s`` from the receiver's clock;
    - replayed: this very signature was accepted before (``seen`` maps signatures to the
      time they were seen; pass the same dict, or a store with the same interface such as a
      cache, to every call; entries older than the window may be dropped).

    A resend after a lost answer carries a new timestamp and signature but the same
    ``event_id``: de-duplicate on it (the body's ``event.id``) after this check.
    """
    now = time.time() if now is None else now
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        raise CallbackRejectedError("malformed", "timestamp is not an integer") from None
    expected = callback_signature(secret=secret, timestamp=sent_at, body=body)
    if not hmac.compare_digest(
        expected.encode("ascii"), (signature or "").encode("ascii", "replace")
    ):
        raise CallbackRejectedError("forged", "signature does not match")
    if abs(now - sent_at) > window_s:
        raise CallbackRejectedError("expired", "timestamp outside the replay window")
    if seen is not None:
        for old, at in list(seen.items()):
            if now - at > 2 * window_s:
                del seen[old]
        if signature in seen:
            raise CallbackRejectedError("replayed", "this callback was received before")
        seen[signature] = now
    try:
        return json.loads(body)
    except ValueError:
        raise CallbackRejectedError("malformed", "body is not JSON") from None
