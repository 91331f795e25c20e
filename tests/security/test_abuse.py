"""Abuse: what an attacker sends to /api/v1/auth/code/, and how many SMS reach the (fake) Twilio.

Codes go through the real queue (a Celery worker) and the real Twilio client. Set
``ABUSE_RECORD=path.json`` to write the figures (docs/reliability.json keeps them under
``abuse``).
"""

import json
import os
import random

import pytest
from rest_framework.test import APIClient

pytestmark = [pytest.mark.usefixtures("fresh_cache")]

URL = "/api/v1/auth/code/"
REQUESTS = 1000
TARGETS = [f"+45201234{i:02d}" for i in range(10)]  # the numbers being bombed
FOREIGN = ["+8823421234", "+46701234567", "+4590123456", "+447700900123"]


def _phone(rng: random.Random, i: int):
    kind = i % 3
    target = rng.choice(TARGETS)
    if kind == 0:
        return int(target.removeprefix("+45"))  # a JSON number: 20123401
    if kind == 1:
        return rng.choice(FOREIGN)
    return f"{target[:3]} {target[3:7]} {target[7:]}"  # "+45 2012 3401"


def _attack(*, rotate_peer: bool) -> dict[str, int]:
    """1,000 requests; one client rotating X-Forwarded-For, or (rotate_peer) a botnet."""
    rng = random.Random(15)
    api = APIClient()
    statuses: dict[int, int] = {}
    for i in range(REQUESTS):
        response = api.post(
            URL,
            {"phone": _phone(rng, i)},
            format="json",
            REMOTE_ADDR=f"198.51.{i // 250}.{i % 250}" if rotate_peer else "203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"10.{i % 256}.{i // 256}.1",
        )
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    assert set(statuses) <= {202, 400, 429, 503}, statuses  # never a server error
    return {"requests": REQUESTS, "accepted": statuses.get(202, 0)} | {
        f"answered_{code}": n for code, n in sorted(statuses.items())
    }


@pytest.mark.django_db(transaction=True)
def test_a_thousand_code_requests_reach_twilio_at_most_the_quota(
    dispatch_worker, twilio_backend_settings, fake_twilio, settings
):
    ip_rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["otp_ip"].split("/")[0])
    one_client = _attack(rotate_peer=False)
    fake_twilio.wait_for_messages(one_client["accepted"], timeout=20)
    one_client["sms_sent"] = len(fake_twilio.messages)
    assert one_client["accepted"] <= ip_rate
    assert one_client["sms_sent"] == one_client["accepted"]
    assert all(sms.to in TARGETS for sms in fake_twilio.messages.all())

    # The same from a thousand addresses, after the cache lost its counters (a fresh key space):
    # the per-number quota in the database still bounds it.
    fake_twilio.reset()
    cache = settings.CACHES["default"]
    settings.CACHES = {"default": {**cache, "KEY_PREFIX": cache["KEY_PREFIX"] + "-botnet"}}
    botnet = _attack(rotate_peer=True)
    fake_twilio.wait_for_messages(botnet["accepted"], timeout=20)
    botnet["sms_sent"] = len(fake_twilio.messages)
    quota = min(
        len(TARGETS) * settings.SMS_CODE_PER_NUMBER_HOUR - one_client["accepted"],
        settings.SMS_CODE_GLOBAL_PER_HOUR,
    )
    assert botnet["sms_sent"] == botnet["accepted"] <= quota
    per_number: dict[str, int] = {}
    for sms in fake_twilio.messages.all():
        per_number[sms.to] = per_number.get(sms.to, 0) + 1
    assert max(per_number.values()) <= settings.SMS_CODE_PER_NUMBER_HOUR
    assert set(per_number) <= set(TARGETS)

    figures = {
        "one_client_rotating_x_forwarded_for": one_client,
        "botnet_1000_addresses": botnet,
        "limits": {
            "otp_ip": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["otp_ip"],
            "otp_phone": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["otp_phone"],
            "per_number_hour": settings.SMS_CODE_PER_NUMBER_HOUR,
            "per_number_day": settings.SMS_CODE_PER_NUMBER_DAY,
            "global_per_hour": settings.SMS_CODE_GLOBAL_PER_HOUR,
            "target_numbers": len(TARGETS),
        },
    }
    if path := os.environ.get("ABUSE_RECORD"):
        with open(path, "w") as out:
            json.dump(figures, out, indent=2)
