"""The fake Twilio and FCM servers in a process of their own, stamping each arrival with the clock.

Their own process, so that serving the messages does not compete for the benchmark process's
GIL while it polls for the arrivals; the stamps come back over a pipe.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time

SENDER = "+4570112112"


def _serve(service_account_path: str, ready, stamps) -> None:
    """The child: both fakes on one port; every recorded message sends its arrival time."""
    from tests.fakes.fcm_server import FakeFCM
    from tests.fakes.keys import generate_service_account
    from tests.fakes.server import ProviderServer
    from tests.fakes.twilio_server import FakeTwilio

    twilio = FakeTwilio(auto_status_callbacks=())
    fcm = FakeFCM(verify_signatures=True)
    lock = threading.Lock()
    for recorder in (twilio.messages, fcm.messages):
        original = recorder.append

        def stamped(item, _original=original):
            now = time.time()
            with lock:
                stamps.send(now)
            _original(item)

        recorder.append = stamped
    server = ProviderServer([twilio, fcm]).start()
    account = generate_service_account(f"{server.base_url}/token")
    account.write(service_account_path)
    fcm.trust(account.client_email, account.public_key, project_id=account.project_id)
    ready.send((server.base_url, twilio.account_sid, twilio.auth_token))
    ready.recv()  # until the parent says stop (or goes away)
    server.stop()


class Providers:
    def __init__(self, service_account_path) -> None:
        context = multiprocessing.get_context("fork")
        self._control, child_control = context.Pipe()
        stamps_out, stamps_in = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve,
            args=(str(service_account_path), child_control, stamps_in),
            name="fake-providers",
            daemon=True,
        )
        self._process.start()
        self.base_url, self.account_sid, self.auth_token = self._control.recv()
        self.service_account_path = str(service_account_path)
        self.arrivals: list[float] = []
        self._lock = threading.Lock()
        self._stamps = stamps_out
        threading.Thread(target=self._collect, daemon=True, name="arrivals").start()

    def _collect(self) -> None:
        while True:
            try:
                stamp = self._stamps.recv()
            except (EOFError, OSError):
                return
            with self._lock:
                self.arrivals.append(stamp)

    def env(self) -> dict[str, str]:
        """Settings for the real Twilio and FCM backends, pointed at these fakes."""
        return {
            "SMS_BACKEND": "alerts.channels.twilio.TwilioSmsBackend",
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM": SENDER,
            "TWILIO_API_BASE": self.base_url,
            "PUSH_BACKEND": "alerts.channels.fcm.FcmPushBackend",
            "FIREBASE_CREDENTIALS_FILE": self.service_account_path,
            "FCM_API_BASE": self.base_url,
        }

    def arrivals_since(self, t0: float) -> list[float]:
        with self._lock:
            return [t for t in self.arrivals if t >= t0]

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._control.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
