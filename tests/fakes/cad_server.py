"""A fake CAD system receiving Hjertealarm's callbacks: it checks each with the verification
function a real CAD would use (amk.cad.signing.callback_verify), fails the first ``fail_times``
requests with 503 (or goes down), then accepts, de-duplicating by the event id as the README
tells a CAD to. It records every request, the refused ones with the reason."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from amk.cad.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CallbackRejectedError,
    callback_verify,
)
from tests.fakes.server import FakeProvider, FakeRequest, FakeResponse, Recorder

PATH = "/cad/callbacks"


@dataclass(frozen=True)
class Received:
    status: int
    event_id: str | None
    body: dict[str, Any] | None
    reason: str = ""


class FakeCad(FakeProvider):
    def __init__(self, *, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.secret = ""
        self.fail_times = 0
        self.window_s = 300
        self.seen: dict[str, float] = {}
        self.requests: Recorder[Received] = Recorder()
        # Accepted callbacks, one per event id (a resend of one already taken is answered 200
        # and not kept again).
        self.accepted: Recorder[dict[str, Any]] = Recorder()
        self._event_ids: set[str] = set()
        self._cad_lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.base_url + PATH

    def reset(self) -> None:
        super().reset()
        with self._cad_lock:
            self.secret, self.fail_times, self.window_s = "", 0, 300
            self.seen = {}
            self._event_ids = set()
        self.requests.clear()
        self.accepted.clear()

    def handle(self, request: FakeRequest) -> FakeResponse | None:
        if request.method != "POST" or request.path != PATH:
            return None
        with self._cad_lock:
            if self.fail_times > 0:
                self.fail_times -= 1
                self.requests.append(Received(503, None, None, "failing"))
                return FakeResponse.json(503, {"error": "CAD busy"})
            try:
                body = callback_verify(
                    secret=self.secret,
                    timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
                    signature=request.headers.get(SIGNATURE_HEADER, ""),
                    body=request.body,
                    seen=self.seen,
                    window_s=self.window_s,
                )
            except CallbackRejectedError as exc:
                self.requests.append(Received(401, None, None, exc.reason))
                return FakeResponse.json(401, {"error": exc.reason})
            event_id = body["event"]["id"]
            self.requests.append(Received(200, event_id, body))
            if event_id not in self._event_ids:
                self._event_ids.add(event_id)
                self.accepted.append(body)
        return FakeResponse.json(200, {"ok": True})
