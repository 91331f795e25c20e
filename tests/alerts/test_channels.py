"""Channel backends: the real twilio and firebase-admin clients against the fake providers."""

import time

import firebase_admin
import pytest
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import QueryDict
from firebase_admin import messaging

from alerts.channels import (
    InvalidRecipientError,
    PermanentChannelError,
    PushMessage,
    SmsMessage,
    TransientChannelError,
    UnregisteredTokenError,
    get_push_backend,
    get_sms_backend,
    reset_backends,
)
from alerts.channels.fcm import FcmPushBackend
from alerts.channels.outbox import OutboxPushBackend, OutboxSmsBackend
from alerts.channels.twilio import TwilioSmsBackend, validate_twilio_signature
from alerts.checks import check_channel_settings, stop_worker_on_channel_errors
from alerts.models import OutboxMessage
from tests.fakes.fixtures import *  # noqa: F403  (fake_twilio, fake_fcm, ... fixtures)
from tests.fakes.keys import generate_service_account

CALLBACK_URL = "https://hjertealarm.example.dk/webhooks/twilio/status/"
NUMBER = "+4520304050"
TOKEN = "device-token-1"
# A Celery worker that other tests run in this process may still send through the same fakes,
# so assertions look only at this file's recipient and token.


def texts_to_us(fake) -> list:
    return [message for message in fake.messages.all() if message.to == NUMBER]


def pushes_to_us(fake) -> list:
    return [message for message in fake.messages.all() if message.token == TOKEN]


def sms(**overrides) -> SmsMessage:
    fields = {
        "to": NUMBER,
        "body": "Hjertestop nær dig. Svar JA hvis du kan hjælpe.",
        "validity_s": 600,
        "status_callback_url": CALLBACK_URL,
    }
    return SmsMessage(**(fields | overrides))


def push(**overrides) -> PushMessage:
    fields = {
        "token": TOKEN,
        "title": "Hjertestop",
        "body": "Hjertestop 800 m fra dig. Kan du hjælpe?",
        "data": {"alert_id": "42", "kind": "alert"},
        "ttl_s": 300,
    }
    return PushMessage(**(fields | overrides))


# The messages


def test_sms_message_requires_e164_number():
    with pytest.raises(InvalidRecipientError) as excinfo:
        sms(to="20304050")
    # A caller catching either the channel errors or ValueError sees it.
    assert isinstance(excinfo.value, PermanentChannelError)
    assert isinstance(excinfo.value, ValueError)


def test_push_message_data_values_must_be_strings():
    with pytest.raises(ValueError, match="strings"):
        push(data={"alert_id": 42})


def test_error_text_carries_status_and_code():
    error = PermanentChannelError("refused", status=400, code=21211)
    assert str(error) == "refused | HTTP 400 | code 21211"


# Choosing and caching backends


def test_local_mode_defaults_to_outbox_backends_built_once():
    reset_backends()
    first = get_sms_backend()
    assert isinstance(first, OutboxSmsBackend)
    assert get_sms_backend() is first
    assert isinstance(get_push_backend(), OutboxPushBackend)
    reset_backends()
    assert get_sms_backend() is not first


def test_changing_a_channel_setting_drops_the_cached_backend(settings):
    before = get_sms_backend()
    settings.TWILIO_API_BASE = "http://127.0.0.1:9"
    assert get_sms_backend() is not before


def test_unknown_backend_path_is_improperly_configured(settings):
    settings.SMS_BACKEND = "alerts.channels.nowhere.Backend"
    with pytest.raises(ImproperlyConfigured, match="SMS_BACKEND"):
        get_sms_backend()


def test_twilio_backend_without_credentials_refuses_to_start(settings):
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_ACCOUNT_SID = "AC123"
    settings.TWILIO_FROM = "+4570112112"
    with pytest.raises(ImproperlyConfigured, match="TWILIO_AUTH_TOKEN"):
        TwilioSmsBackend()


# Outbox


@pytest.mark.django_db
def test_outbox_records_sms_and_push():
    sms_id = OutboxSmsBackend().send(sms())
    push_id = OutboxPushBackend().send(push())

    text = OutboxMessage.objects.get(provider_message_id=sms_id)
    assert (text.channel, text.recipient) == ("sms", NUMBER)
    assert text.body.startswith("Hjertestop nær dig")
    assert text.data == {"validity_s": 600, "status_callback_url": CALLBACK_URL}
    notification = OutboxMessage.objects.get(provider_message_id=push_id)
    assert (notification.channel, notification.recipient) == ("push", TOKEN)
    assert notification.data["data"]["alert_id"] == "42"
    assert notification.data["title"] == "Hjertestop"
    assert sms_id != push_id


# Twilio


def test_sms_reaches_twilio_with_its_parameters(twilio_backend_settings, fake_twilio):
    message_id = get_sms_backend().send(sms())

    [received] = texts_to_us(fake_twilio)
    assert message_id == received.sid
    assert received.sid.startswith("SM")
    assert len(received.sid) == 34
    assert received.to == NUMBER
    assert received.body == "Hjertestop nær dig. Svar JA hvis du kan hjælpe."
    assert received.from_ == "+4570112112"
    assert received.validity_period == 600
    assert received.status_callback == CALLBACK_URL


def test_messaging_service_sender_and_validity_cap(settings, twilio_backend_settings, fake_twilio):
    settings.TWILIO_FROM = "MG" + "a" * 32
    get_sms_backend().send(sms(validity_s=100_000, status_callback_url=None))

    [received] = texts_to_us(fake_twilio)
    assert received.messaging_service_sid == "MG" + "a" * 32
    assert received.from_ is None
    assert received.validity_period == 36000  # Twilio's maximum
    assert "StatusCallback" not in received.form


def test_sms_without_validity_sends_none(twilio_backend_settings, fake_twilio):
    get_sms_backend().send(sms(validity_s=None))
    assert "ValidityPeriod" not in texts_to_us(fake_twilio)[0].form


def test_wrong_twilio_credentials_are_permanent(settings, twilio_backend_settings, fake_twilio):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    with pytest.raises(PermanentChannelError) as excinfo:
        get_sms_backend().send(sms())
    assert (excinfo.value.status, excinfo.value.code) == (401, 20003)
    assert not isinstance(excinfo.value, TransientChannelError)
    assert texts_to_us(fake_twilio) == []


@pytest.mark.parametrize("status", [500, 503, 429])
def test_twilio_server_errors_and_rate_limits_are_transient(
    twilio_backend_settings, fake_twilio, status
):
    fake_twilio.faults.error_every = 1
    fake_twilio.faults.error_status = status
    with pytest.raises(TransientChannelError) as excinfo:
        get_sms_backend().send(sms())
    assert excinfo.value.status == status
    assert fake_twilio.attempts.all().count(NUMBER) == 1  # no hidden retries


def test_every_second_request_failing_is_deterministic(twilio_backend_settings, fake_twilio):
    fake_twilio.faults.error_every = 2
    backend = get_sms_backend()
    backend.send(sms())
    with pytest.raises(TransientChannelError):
        backend.send(sms())
    backend.send(sms())
    assert len(texts_to_us(fake_twilio)) == 2


@pytest.mark.parametrize(
    ("numbers", "code"), [("invalid_numbers", 21211), ("unsubscribed_numbers", 21610)]
)
def test_rejected_numbers_are_permanent(twilio_backend_settings, fake_twilio, numbers, code):
    getattr(fake_twilio, numbers).add(NUMBER)
    with pytest.raises(PermanentChannelError) as excinfo:
        get_sms_backend().send(sms())
    assert (excinfo.value.status, excinfo.value.code) == (400, code)


def test_twilio_down_is_transient_and_recovers(twilio_backend_settings, fake_twilio):
    backend = get_sms_backend()
    backend.send(sms())  # a pooled keep-alive connection exists now
    fake_twilio.down()
    with pytest.raises(TransientChannelError, match="unreachable"):
        backend.send(sms())
    fake_twilio.up()
    backend.send(sms())
    assert len(texts_to_us(fake_twilio)) == 2


def test_twilio_timeout_is_transient(settings, twilio_backend_settings, fake_twilio):
    settings.TWILIO_TIMEOUT_S = 0.3
    fake_twilio.faults.delay_s = 3
    started = time.monotonic()
    with pytest.raises(TransientChannelError, match="timed out"):
        get_sms_backend().send(sms())
    assert time.monotonic() - started < 2


# Twilio webhook signatures


def test_status_callback_signature_is_accepted(twilio_backend_settings, fake_twilio):
    sid = get_sms_backend().send(sms())
    url, params, signature = fake_twilio.status_callback_request(sid, "delivered")

    assert params["MessageStatus"] == "delivered"
    assert params["MessageSid"] == sid
    assert validate_twilio_signature(url, params, signature)
    form = QueryDict(mutable=True)
    form.update(params)
    assert validate_twilio_signature(url, form, signature)  # as a Django view sees it


def test_forged_or_unsigned_callbacks_are_rejected(settings, twilio_backend_settings, fake_twilio):
    sid = get_sms_backend().send(sms())
    url, params, signature = fake_twilio.status_callback_request(sid, "delivered")

    assert not validate_twilio_signature(url, params | {"MessageStatus": "failed"}, signature)
    assert not validate_twilio_signature(url + "?x=1", params, signature)
    assert not validate_twilio_signature(url, params, None)
    assert not validate_twilio_signature(url, params, "")
    settings.TWILIO_AUTH_TOKEN = "another-token"
    assert not validate_twilio_signature(url, params, signature)
    settings.TWILIO_AUTH_TOKEN = ""
    assert not validate_twilio_signature(url, params, signature)


# FCM


def test_push_reaches_fcm_through_firebase_admin(
    fcm_backend_settings, fake_fcm, fake_service_account
):
    message_id = get_push_backend().send(push())

    [received] = pushes_to_us(fake_fcm)
    assert message_id == received.name
    assert received.name.startswith("projects/hjertealarm-test/messages/")
    assert received.token == TOKEN
    assert received.data == {"alert_id": "42", "kind": "alert"}
    assert received.notification == {
        "title": "Hjertestop",
        "body": "Hjertestop 800 m fra dig. Kan du hjælpe?",
    }
    assert received.android == {"priority": "high", "ttl": "300s"}
    assert received.apns["headers"]["apns-priority"] == "10"
    assert received.apns["headers"]["apns-push-type"] == "alert"
    assert int(received.apns["headers"]["apns-expiration"]) > time.time() + 250
    assert received.apns["payload"]["aps"]["content-available"] == 1
    # The OAuth2 exchange happened, with a JWT signed by the service account's key.
    [grant] = fake_fcm.token_grants.all()
    assert grant.client_email == fake_service_account.client_email
    assert "https://www.googleapis.com/auth/cloud-platform" in grant.claims["scope"]


def test_access_token_is_reused_and_refreshed_when_revoked(fcm_backend_settings, fake_fcm):
    backend = get_push_backend()
    backend.send(push())
    backend.send(push())
    assert len(fake_fcm.token_grants) == 1
    fake_fcm.reset()  # forgets issued tokens: the next send gets 401, refreshes and retries
    backend.send(push())
    assert len(fake_fcm.token_grants) == 1
    assert len(pushes_to_us(fake_fcm)) == 1


def test_fcm_url_is_redirected_for_our_app_only(fcm_backend_settings, fake_fcm):
    backend = get_push_backend()
    assert isinstance(backend, FcmPushBackend)
    assert backend._service._fcm_url.startswith(fake_fcm.base_url)
    assert messaging._MessagingService.FCM_URL.startswith("https://fcm.googleapis.com/")


def test_reset_deletes_the_firebase_app(fcm_backend_settings):
    app_name = get_push_backend().app.name
    reset_backends()
    with pytest.raises(ValueError, match="does not exist"):
        firebase_admin.get_app(app_name)


@pytest.mark.parametrize("tokens", ["unregistered_tokens", "invalid_tokens"])
def test_dead_tokens_raise_unregistered(fcm_backend_settings, fake_fcm, tokens):
    getattr(fake_fcm, tokens).add(TOKEN)
    with pytest.raises(UnregisteredTokenError) as excinfo:
        get_push_backend().send(push())
    assert excinfo.value.code in {"UNREGISTERED", "INVALID_ARGUMENT"}


@pytest.mark.parametrize("status", [503, 500, 429])
def test_fcm_server_errors_are_transient_without_library_retries(
    fcm_backend_settings, fake_fcm, status
):
    fake_fcm.faults.error_every = 1
    fake_fcm.faults.error_status = status
    started = time.monotonic()
    with pytest.raises(TransientChannelError) as excinfo:
        get_push_backend().send(push())
    assert excinfo.value.status == status
    assert fake_fcm.attempts.all().count(TOKEN) == 1
    assert time.monotonic() - started < 1


def test_fcm_other_client_errors_are_permanent(fcm_backend_settings, fake_fcm):
    fake_fcm.faults.error_every = 1
    fake_fcm.faults.error_status = 400
    with pytest.raises(PermanentChannelError) as excinfo:
        get_push_backend().send(push())
    assert not isinstance(excinfo.value, UnregisteredTokenError)


def test_fcm_down_is_transient_and_recovers(fcm_backend_settings, fake_fcm):
    backend = get_push_backend()
    backend.send(push())
    fake_fcm.down()
    with pytest.raises(TransientChannelError):
        backend.send(push())
    fake_fcm.up()
    backend.send(push())
    assert len(pushes_to_us(fake_fcm)) == 2


def test_fcm_timeout_is_transient(settings, fcm_backend_settings, fake_fcm):
    settings.FCM_TIMEOUT_S = 0.3
    backend = get_push_backend()
    backend.send(push())  # the token exchange is not delayed
    fake_fcm.faults.delay_s = 3
    started = time.monotonic()
    with pytest.raises(TransientChannelError):
        backend.send(push())
    assert time.monotonic() - started < 2


def test_untrusted_service_account_is_permanent(settings, fcm_backend_settings, fake_fcm, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = generate_service_account(
        fake_fcm.token_url,
        private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        project_id="someone-else",
    )
    settings.FIREBASE_CREDENTIALS_FILE = str(stranger.write(tmp_path / "stranger.json"))
    with pytest.raises(PermanentChannelError, match="credentials refused"):
        get_push_backend().send(push())
    assert pushes_to_us(fake_fcm) == []
    assert stranger.client_email not in {
        grant.client_email for grant in fake_fcm.token_grants.all()
    }


# Start-up checks


def test_default_test_configuration_passes_the_checks():
    assert check_channel_settings() == []


def test_check_reports_a_backend_path_that_does_not_import(settings):
    settings.PUSH_BACKEND = "alerts.channels.fcm.NoSuchBackend"
    [error] = check_channel_settings()
    assert error.id == "alerts.E002"
    assert "PUSH_BACKEND" in error.msg


def test_check_names_missing_twilio_variables(settings):
    settings.SMS_BACKEND = "alerts.channels.twilio.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_FROM = "+4570112112"

    [error] = check_channel_settings()
    assert isinstance(error, Error)
    assert error.id == "alerts.E001"
    assert "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN must be set" in error.msg
    assert "TWILIO_FROM" not in error.msg


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "FIREBASE_CREDENTIALS_FILE must be set"),
        ("/nonexistent/firebase.json", "cannot be read"),
    ],
)
def test_check_names_missing_firebase_file(settings, path, expected):
    settings.PUSH_BACKEND = "alerts.channels.fcm.FcmPushBackend"
    settings.FIREBASE_CREDENTIALS_FILE = path

    [error] = check_channel_settings()
    assert error.id == "alerts.E002"
    assert "FIREBASE_CREDENTIALS_FILE" in error.msg
    assert expected in error.msg


def test_check_rejects_a_file_that_is_not_a_service_account(settings, tmp_path):
    path = tmp_path / "google-services.json"
    path.write_text('{"project_info": {"project_id": "x"}}')
    settings.PUSH_BACKEND = "alerts.channels.fcm.FcmPushBackend"
    settings.FIREBASE_CREDENTIALS_FILE = str(path)
    [error] = check_channel_settings()
    assert "private_key" in error.msg
    assert "client_email" in error.msg


def test_real_backends_with_credentials_pass_the_checks(
    twilio_backend_settings, fcm_backend_settings
):
    assert check_channel_settings() == []


def test_manage_py_check_fails_with_the_variable_names(settings):
    settings.SMS_BACKEND = "alerts.channels.twilio.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM = ""
    with pytest.raises(
        SystemCheckError, match="TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM"
    ):
        call_command("check")


def test_celery_worker_stops_on_channel_errors(settings):
    settings.PUSH_BACKEND = "alerts.channels.fcm.FcmPushBackend"
    settings.FIREBASE_CREDENTIALS_FILE = ""
    with pytest.raises(SystemExit, match="FIREBASE_CREDENTIALS_FILE"):
        stop_worker_on_channel_errors(sender=None)
    settings.PUSH_BACKEND = "alerts.channels.outbox.OutboxPushBackend"
    stop_worker_on_channel_errors(sender=None)  # a good configuration starts


def test_push_carries_its_collapse_id_so_a_resend_replaces_the_first(
    fcm_backend_settings, fake_fcm
):
    get_push_backend().send(push(collapse_id="alert-7-alert"))

    [received] = fake_fcm.wait_for_messages(1)
    assert received.android["collapse_key"] == "alert-7-alert"
    assert received.android["notification"]["tag"] == "alert-7-alert"
    assert received.apns["headers"]["apns-collapse-id"] == "alert-7-alert"
