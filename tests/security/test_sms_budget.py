"""The SMS budget for login codes (volunteers.services.code_budget, alerts.services.codes): the
phone throttle on the normalised number, allowed destinations, the per-number quota in the
database, the global cap with its operator alarm, and the codes' own sender."""

import datetime as dt
import logging

import pytest
from rest_framework.test import APIClient

from alerts.models import OutboxMessage
from volunteers.models import CodeSend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache", "codes_sent_inline")]

URL = "/api/v1/auth/code/"


def _rates(settings, **rates):
    merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged}


def _ask(phone, ip="203.0.113.7"):
    return APIClient().post(URL, {"phone": phone}, format="json", REMOTE_ADDR=ip)


def test_a_json_number_shares_the_phone_throttle_of_its_e164_form(settings):
    _rates(settings, otp_phone="2/hour", otp_ip="100/hour")
    assert _ask(20123456).status_code == 202
    assert _ask("+45 20 12 34 56", ip="198.51.100.1").status_code == 202
    assert _ask("20123456", ip="198.51.100.2").status_code == 429
    assert OutboxMessage.objects.filter(recipient="+4520123456").count() == 2


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("+8823421234", "mobilnumre fra: DK"),  # international networks (SMS pumping)
        ("+46701234567", "mobilnumre fra: DK"),  # Sweden
        ("+4590123456", "kun til mobilnumre."),  # Danish premium rate
        (True, "gyldigt telefonnummer"),
    ],
)
def test_codes_go_only_to_mobiles_of_the_allowed_countries(phone, reason):
    response = _ask(phone)
    assert response.status_code == 400
    assert reason in response.json()["phone"][0]
    assert not OutboxMessage.objects.exists()
    assert not CodeSend.objects.exists()


def test_the_allowed_countries_are_a_setting(settings):
    settings.SMS_CODE_COUNTRIES = ["DK", "SE"]
    assert _ask("+46701234567").status_code == 202


def test_the_per_number_quota_is_kept_in_the_database(settings, fresh_cache):
    _rates(settings, otp_phone="100/hour", otp_ip="100/hour")
    settings.SMS_CODE_PER_NUMBER_HOUR = 2
    settings.SMS_CODE_PER_NUMBER_DAY = 3
    assert [_ask("+4520123456").status_code for _ in range(3)] == [202, 202, 429]
    refused = _ask("+4520123456")
    assert refused.status_code == 429
    assert "For mange koder" in refused.json()["phone"][0]
    assert _ask("+4520123457").status_code == 202  # another number is not affected
    # An hour later the hourly quota has room again, but the daily one allows only one more.
    CodeSend.objects.update(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=61))
    assert [_ask("+4520123456").status_code for _ in range(2)] == [202, 429]
    assert OutboxMessage.objects.filter(recipient="+4520123456").count() == 3
    # A cleared cache changes nothing: the quota is in the database.
    assert CodeSend.objects.count() == 4


def test_the_global_cap_refuses_codes_and_raises_an_operator_alarm(settings, caplog):
    _rates(settings, otp_phone="100/hour", otp_ip="100/hour")
    settings.SMS_CODE_GLOBAL_PER_HOUR = 3
    statuses = [_ask(f"+452012345{i}").status_code for i in range(5)]
    assert statuses == [202, 202, 202, 503, 503]
    alarms = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(alarms) == 1  # once, not once per refused request
    assert "SMS code budget exhausted" in alarms[0].getMessage()
    assert OutboxMessage.objects.count() == 3


def test_codes_go_from_their_own_sender(settings, twilio_backend_settings, fake_twilio):
    settings.SMS_CODE_FROM = "Hjertealarm"
    assert _ask("+4520123456").status_code == 202
    (sms,) = fake_twilio.wait_for_messages(1)
    assert sms.from_ == "Hjertealarm"
    assert sms.to == "+4520123456"


def test_without_a_code_sender_the_alerts_sender_is_used(twilio_backend_settings, fake_twilio):
    assert _ask("+4520123456").status_code == 202
    (sms,) = fake_twilio.wait_for_messages(1)
    assert sms.from_ == twilio_backend_settings.TWILIO_FROM
