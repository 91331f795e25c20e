"""The fake Twilio and FCM servers in this process, stamping each arrival with the clock."""

from __future__ import annotations

import threading
import time

from tests.fakes.fcm_server import FakeFCM
from tests.fakes.keys import generate_service_account
from tests.fakes.server import ProviderServer
from tests.fakes.twilio_server import FakeTwilio

SENDER = "+4570112112"


class Providers:
    def __init__(self, service_account_path) -> None:
        self.twilio = FakeTwilio(auto_status_callbacks=())
        self.fcm = FakeFCM(verify_signatures=True)
        self.arrivals: list[float] = []
        self._lock = threading.Lock()
        for recorder in (self.twilio.messages, self.fcm.messages):
            original = recorder.append

            def stamped(item, _original=original):
                with self._lock:
                    self.arrivals.append(time.time())
                _original(item)

            recorder.append = stamped
        self.server = ProviderServer([self.twilio, self.fcm]).start()
        account = generate_service_account(f"{self.server.base_url}/token")
        account.write(service_account_path)
        self.fcm.trust(account.client_email, account.public_key, project_id=account.project_id)
        self.service_account_path = str(service_account_path)

    def env(self) -> dict[str, str]:
        """Settings for the real Twilio and FCM backends, pointed at these fakes."""
        return {
            "SMS_BACKEND": "alerts.channels.twilio.TwilioSmsBackend",
            "TWILIO_ACCOUNT_SID": self.twilio.account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio.auth_token,
            "TWILIO_FROM": SENDER,
            "TWILIO_API_BASE": self.server.base_url,
            "PUSH_BACKEND": "alerts.channels.fcm.FcmPushBackend",
            "FIREBASE_CREDENTIALS_FILE": self.service_account_path,
            "FCM_API_BASE": self.server.base_url,
        }

    def arrivals_since(self, t0: float) -> list[float]:
        with self._lock:
            return [t for t in self.arrivals if t >= t0]

    def stop(self) -> None:
        self.server.stop()
