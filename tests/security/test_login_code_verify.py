"""Login codes through Twilio Verify (LOGIN_CODE_BACKEND = "twilio-verify", #15.1): the real
``twilio`` client against the fake Verify API (tests/fakes/twilio_verify.py), through the real
endpoints /auth/code/, /auth/signup/ and /auth/login/. Twilio makes, sends and checks the code;
the SMS budget is taken before anything is sent, and our own attempt limit still applies."""

import time

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from rest_framework.test import APIClient

from alerts.models import OutboxMessage
from tests.factories import VolunteerFactory
from volunteers.models import CodeSend, PhoneCode, Volunteer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

PHONE = "+4560123456"
TERMS = {"terms_version": "2025-01", "location_consent_version": "2025-01"}


@pytest.fixture
def verify(settings, twilio_backend_settings, fake_twilio):
    settings.LOGIN_CODE_BACKEND = "twilio-verify"
    settings.TWILIO_VERIFY_SERVICE_SID = fake_twilio.verify.service_sid
    settings.TWILIO_VERIFY_API_BASE = fake_twilio.base_url
    return fake_twilio.verify


def _ask(phone=PHONE, ip="203.0.113.7"):
    return APIClient().post("/api/v1/auth/code/", {"phone": phone}, format="json", REMOTE_ADDR=ip)


def _login(code, phone=PHONE):
    return APIClient().post("/api/v1/auth/login/", {"phone": phone, "code": code}, format="json")


@pytest.mark.usefixtures("codes_sent_inline")
def test_sign_up_with_a_code_twilio_verify_sent(verify, fake_twilio):
    assert _ask().status_code == 202
    [sent] = verify.sent.all()
    assert (sent.to, sent.channel, sent.locale) == (PHONE, "sms", "da")
    assert not fake_twilio.messages.all()  # no SMS of our own through the Messages API
    assert not OutboxMessage.objects.exists()
    assert PhoneCode.objects.get(phone=PHONE).code_hash == f"twilio-verify:{sent.verification_sid}"

    response = APIClient().post(
        "/api/v1/auth/signup/",
        {
            "phone": PHONE,
            "code": sent.code,
            "first_name": "Mette",
            "last_name": "Jensen",
            "date_of_birth": "1985-04-12",
            **TERMS,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert Volunteer.objects.get(phone=PHONE).phone_verified_at is not None
    assert verify.checks.all() == [(PHONE, sent.code, "approved")]


@pytest.mark.usefixtures("codes_sent_inline")
def test_a_wrong_code_is_refused_and_counted_by_us_and_by_twilio(verify, settings):
    VolunteerFactory(phone=PHONE)
    settings.OTP_MAX_ATTEMPTS = 3
    _ask()
    code = verify.code_for(PHONE)
    wrong = "000000" if code != "000000" else "111111"

    answers = [_login(wrong) for _ in range(3)]
    assert [a.status_code for a in answers] == [400, 400, 400]
    assert "forkert" in answers[0].json()["code"][0]
    # Our limit is reached: the right code no longer helps, and Twilio is not asked again.
    refused = _login(code)
    assert refused.status_code == 400
    assert "For mange" in refused.json()["code"][0]
    assert [status for _to, _code, status in verify.checks.all()] == ["pending"] * 3


@pytest.mark.usefixtures("codes_sent_inline")
def test_log_in_with_the_verified_code_once(verify):
    VolunteerFactory(phone=PHONE)
    _ask()
    code = verify.code_for(PHONE)

    first = _login(code)
    assert first.status_code == 200, first.content
    assert "token" in first.json()
    assert _login(code).status_code == 400  # used up, here and at Twilio


@pytest.mark.usefixtures("codes_sent_inline")
def test_the_sms_budget_applies_before_twilio_verify_sends(verify, settings):
    settings.SMS_CODE_PER_NUMBER_HOUR = 2
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "otp_phone": "100/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    statuses = [_ask().status_code for _ in range(4)]
    foreign = _ask("+8823421234")

    assert statuses == [202, 202, 429, 429]
    assert foreign.status_code == 400
    assert len(verify.sent) == 2
    assert CodeSend.objects.count() == 2


@pytest.mark.usefixtures("codes_sent_inline")
def test_twilio_verify_down_at_the_check_is_a_503_naming_the_code(verify, fake_twilio):
    VolunteerFactory(phone=PHONE)
    _ask()
    code = verify.code_for(PHONE)
    fake_twilio.faults.error_every = 1
    fake_twilio.faults.error_status = 500

    response = _login(code)

    assert response.status_code == 503
    assert "code" in response.json()


def test_the_code_is_queued_to_a_real_worker(dispatch_worker, verify):
    assert _ask().status_code == 202
    [sent] = verify.sent.wait_for(1, timeout=10)
    assert sent.to == PHONE
    # The worker records the verification just after Twilio took it.
    for _ in range(100):
        if PhoneCode.objects.filter(phone=PHONE).exists():
            break
        time.sleep(0.05)
    assert _login(sent.code).status_code == 400  # no volunteer with this number yet
    assert [status for _to, _code, status in verify.checks.all()] == ["approved"]


def test_twilio_verify_without_credentials_stops_the_start(settings):
    settings.LOGIN_CODE_BACKEND = "twilio-verify"
    settings.TWILIO_VERIFY_SERVICE_SID = ""
    with pytest.raises(SystemCheckError, match="TWILIO_VERIFY_SERVICE_SID"):
        call_command("check")
