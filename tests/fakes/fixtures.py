"""pytest fixtures for the fake providers. In tests/conftest.py::

    from tests.fakes.fixtures import *  # noqa: F403

Each fake server starts once per test process (a module-level singleton, so importing these
fixtures in several places never starts two) and is reset before and after every test: faults
cleared, recordings emptied, up again if a test took it down.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator

import pytest

from alerts.channels.base import reset_backends
from tests.fakes.fcm_server import FakeFCM
from tests.fakes.keys import ServiceAccount, generate_service_account
from tests.fakes.twilio_server import FakeTwilio

__all__ = [
    "fake_cad",
    "fake_fcm",
    "fake_service_account",
    "fake_twilio",
    "fcm_backend_settings",
    "fresh_backends",
    "twilio_backend_settings",
]

TWILIO_SENDER = "+4570112112"

_lock = threading.Lock()
_fakes: dict[str, FakeTwilio | FakeFCM] = {}


def _shared(kind: str) -> FakeTwilio | FakeFCM:
    with _lock:
        fake = _fakes.get(kind)
        if fake is None:
            fake = (FakeTwilio() if kind == "twilio" else FakeFCM()).start()
            atexit.register(fake.stop)
            _fakes[kind] = fake
        return fake


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = _shared("twilio")
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def fake_fcm() -> Iterator[FakeFCM]:
    fake = _shared("fcm")
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def twilio_backend_settings(settings, fake_twilio):
    """SMS_BACKEND is the real Twilio backend, talking to ``fake_twilio``."""
    settings.SMS_BACKEND = "alerts.channels.twilio.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID = fake_twilio.account_sid
    settings.TWILIO_AUTH_TOKEN = fake_twilio.auth_token
    settings.TWILIO_FROM = TWILIO_SENDER
    settings.TWILIO_API_BASE = fake_twilio.base_url
    settings.TWILIO_TIMEOUT_S = 2.0
    reset_backends()
    yield settings
    reset_backends()


@pytest.fixture
def fake_service_account(fake_fcm, tmp_path) -> ServiceAccount:
    """A throwaway service account trusted by ``fake_fcm``; its key file is in tmp_path."""
    account = generate_service_account(fake_fcm.token_url)
    account.write(tmp_path / "firebase-service-account.json")
    fake_fcm.trust(account.client_email, account.public_key, project_id=account.project_id)
    return account


@pytest.fixture
def fcm_backend_settings(settings, fake_fcm, fake_service_account, tmp_path):
    """PUSH_BACKEND is the real FCM backend (firebase-admin), talking to ``fake_fcm``."""
    settings.PUSH_BACKEND = "alerts.channels.fcm.FcmPushBackend"
    settings.FIREBASE_CREDENTIALS_FILE = str(tmp_path / "firebase-service-account.json")
    settings.FCM_API_BASE = fake_fcm.base_url
    settings.FCM_TIMEOUT_S = 2.0
    reset_backends()
    yield settings
    reset_backends()


@pytest.fixture
def fresh_backends():
    """The channel backends built anew from this test's settings, and dropped after it."""
    reset_backends()
    yield
    reset_backends()


@pytest.fixture
def fake_cad():
    """A fake CAD taking callbacks (tests/fakes/cad_server.py), shared and reset per test."""
    from tests.fakes.cad_server import FakeCad

    with _lock:
        fake = _fakes.get("cad")
        if fake is None:
            fake = FakeCad().start()
            atexit.register(fake.stop)
            _fakes["cad"] = fake
    fake.reset()
    yield fake
    fake.reset()
