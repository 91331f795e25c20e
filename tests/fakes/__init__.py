"""Fake Twilio and FCM servers that the real provider clients talk to in tests."""

from tests.fakes.fcm_server import FakeFCM, FcmPush, TokenGrant
from tests.fakes.keys import ServiceAccount, generate_service_account
from tests.fakes.server import Faults, ProviderServer
from tests.fakes.twilio_server import FakeTwilio, TwilioSms

__all__ = [
    "FakeFCM",
    "FakeTwilio",
    "Faults",
    "FcmPush",
    "ProviderServer",
    "ServiceAccount",
    "TokenGrant",
    "TwilioSms",
    "generate_service_account",
]
