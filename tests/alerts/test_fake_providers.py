"""The fake providers themselves: they must refuse what the real services refuse."""

import subprocess
import sys
import threading
import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt
from twilio.request_validator import RequestValidator

from alerts.channels import PushMessage, SmsMessage, get_push_backend, get_sms_backend
from tests.fakes import FakeTwilio, ProviderServer
from tests.fakes.fcm_server import GOOGLE_TOKEN_AUDIENCE, JWT_BEARER
from tests.fakes.fixtures import *  # noqa: F403  (fake_twilio, fake_fcm, ... fixtures)
from tests.fakes.keys import throwaway_rsa_key
from tests.fakes.server import FakeProvider, FakeRequest, FakeResponse, Recorder

NUMBER = "+4520304050"


def messages_url(fake: FakeTwilio) -> str:
    return f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"


def post_sms(fake: FakeTwilio, **form: str) -> requests.Response:
    data = {"To": NUMBER, "From": "+4570112112", "Body": "Hjertestop"} | form
    return requests.post(
        messages_url(fake), data=data, auth=(fake.account_sid, fake.auth_token), timeout=5
    )


class CallbackSink(FakeProvider):
    """Our side of a status callback: records the POSTs Twilio makes."""

    def __init__(self) -> None:
        super().__init__()
        self.received: Recorder[FakeRequest] = Recorder()

    def handle(self, request: FakeRequest) -> FakeResponse | None:
        if request.path != "/status":
            return None
        self.received.append(request)
        return FakeResponse(204)


@pytest.fixture
def callback_sink():
    sink = CallbackSink().start()
    yield sink
    sink.stop()


# FakeTwilio


def test_twilio_answers_like_the_messages_api(fake_twilio):
    response = post_sms(fake_twilio, StatusCallback="https://example.dk/s", ValidityPeriod="600")

    assert response.status_code == 201
    body = response.json()
    assert body["sid"].startswith("SM")
    assert len(body["sid"]) == 34
    assert body["status"] == "queued"
    assert (body["to"], body["from"], body["body"]) == (NUMBER, "+4570112112", "Hjertestop")
    assert body["account_sid"] == fake_twilio.account_sid
    assert body["uri"].endswith(f"/Messages/{body['sid']}.json")
    assert "date_created" in body
    assert body["direction"] == "outbound-api"
    [recorded] = fake_twilio.messages.all()
    assert recorded.sid == body["sid"]
    assert recorded.validity_period == 600


def test_twilio_requires_the_account_credentials(fake_twilio):
    response = requests.post(
        messages_url(fake_twilio),
        data={"To": NUMBER, "From": "+4570112112", "Body": "x"},
        auth=(fake_twilio.account_sid, "wrong"),
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert len(fake_twilio.messages) == 0


@pytest.mark.parametrize(
    ("form", "code"),
    [({"To": ""}, 21604), ({"Body": ""}, 21602), ({"To": "12345"}, 21211)],
)
def test_twilio_validates_the_form(fake_twilio, form, code):
    response = post_sms(fake_twilio, **form)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_twilio_posts_signed_status_callbacks(fake_twilio, callback_sink):
    fake_twilio.auto_status_callbacks = ("sent", "delivered")
    fake_twilio.callback_delay_s = 0.01
    url = f"{callback_sink.base_url}/status"
    sid = post_sms(fake_twilio, StatusCallback=url).json()["sid"]

    first, second = callback_sink.received.wait_for(2, timeout=5)
    validator = RequestValidator(fake_twilio.auth_token)
    for request, status in ((first, "sent"), (second, "delivered")):
        form = request.form()
        assert (form["MessageSid"], form["MessageStatus"]) == (sid, status)
        assert validator.validate(url, form, request.headers["X-Twilio-Signature"])
    assert fake_twilio.callbacks.wait_for(2) == [(sid, "sent", 204), (sid, "delivered", 204)]


def test_send_status_callback_returns_the_receivers_answer(fake_twilio, callback_sink):
    sid = post_sms(fake_twilio, StatusCallback=f"{callback_sink.base_url}/status").json()["sid"]
    assert fake_twilio.send_status_callback(sid, "undelivered", error_code="30003") == 204
    form = callback_sink.received.all()[0].form()
    assert form["ErrorCode"] == "30003"


def test_seeded_error_rate_is_reproducible(fake_twilio):
    def pattern() -> list[int]:
        fake_twilio.reset()
        fake_twilio.faults.error_rate = 0.5
        return [post_sms(fake_twilio).status_code for _ in range(12)]

    first = pattern()
    assert set(first) == {201, 503}
    assert pattern() == first


def test_down_refuses_connections_and_reset_brings_it_up(fake_twilio):
    fake_twilio.down()
    with pytest.raises(requests.ConnectionError):
        post_sms(fake_twilio)
    fake_twilio.reset()
    assert post_sms(fake_twilio).status_code == 201


def test_reset_cuts_a_delay_short(fake_twilio):
    fake_twilio.faults.delay_s = 30
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(post_sms(fake_twilio).status_code))
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    fake_twilio.reset()
    thread.join(timeout=5)
    # The interrupted request belonged to the previous test: refused, not recorded.
    assert result == [503]
    assert time.monotonic() - started < 2
    assert len(fake_twilio.messages) == 0


def test_wait_for_messages_times_out_or_returns_when_enough(fake_twilio):
    with pytest.raises(AssertionError, match=r"waited 0\.1 s for 1"):
        fake_twilio.wait_for_messages(1, timeout=0.1)
    threading.Timer(0.1, lambda: post_sms(fake_twilio)).start()
    assert len(fake_twilio.wait_for_messages(1, timeout=5)) == 1


# FakeFCM


def assertion(private_key, email: str, **claims) -> str:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    now = int(time.time())
    payload = {
        "iss": email,
        "aud": GOOGLE_TOKEN_AUDIENCE,
        "scope": "https://www.googleapis.com/auth/firebase.messaging",
        "iat": now,
        "exp": now + 3600,
    } | claims
    return jwt.encode(crypt.RSASigner.from_string(pem), payload).decode("ascii")


def get_token(fake_fcm, assertion_jwt: str, grant_type: str = JWT_BEARER) -> requests.Response:
    return requests.post(
        fake_fcm.token_url, data={"grant_type": grant_type, "assertion": assertion_jwt}, timeout=5
    )


def test_token_endpoint_checks_grant_and_signature(fake_fcm, fake_service_account):
    email = fake_service_account.client_email
    good = assertion(throwaway_rsa_key(), email)
    assert get_token(fake_fcm, good, grant_type="client_credentials").json()["error"] == (
        "unsupported_grant_type"
    )
    forged = assertion(rsa.generate_private_key(public_exponent=65537, key_size=2048), email)
    assert get_token(fake_fcm, forged).json() == {
        "error": "invalid_grant",
        "error_description": "Invalid JWT Signature.",
    }
    expired = assertion(throwaway_rsa_key(), email, iat=1, exp=2)
    assert get_token(fake_fcm, expired).status_code == 400

    answer = get_token(fake_fcm, good).json()
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 3600
    assert fake_fcm.token_grants.all()[0].access_token == answer["access_token"]


def send_raw(fake_fcm, token: str | None, message: dict, project: str = "hjertealarm-test"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{fake_fcm.base_url}/v1/projects/{project}/messages:send",
        json={"message": message},
        headers=headers,
        timeout=5,
    )


def test_send_requires_an_issued_token_for_the_project(fake_fcm, fake_service_account):
    message = {"token": "t", "data": {"alert_id": "1"}}
    assert send_raw(fake_fcm, None, message).status_code == 401
    assert send_raw(fake_fcm, "ya29.made-up", message).status_code == 401
    token = get_token(
        fake_fcm, assertion(throwaway_rsa_key(), fake_service_account.client_email)
    ).json()["access_token"]
    assert send_raw(fake_fcm, token, message, project="another-project").status_code == 403
    response = send_raw(fake_fcm, token, message)
    assert response.status_code == 200
    assert response.json()["name"].startswith("projects/hjertealarm-test/messages/")


@pytest.mark.parametrize(
    "message",
    [
        {"token": "t", "data": {"alert_id": 1}},
        {"topic": "all"},
        {"token": "t", "topic": "all"},
        {"token": "t", "android": {"priority": "urgent"}},
        {"token": "t", "android": {"ttl": "300"}},
    ],
)
def test_send_validates_the_v1_message(fake_fcm, fake_service_account, message):
    token = get_token(
        fake_fcm, assertion(throwaway_rsa_key(), fake_service_account.client_email)
    ).json()["access_token"]
    response = send_raw(fake_fcm, token, message)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_unregistered_token_answers_the_fcm_v1_error(fake_fcm, fake_service_account):
    fake_fcm.unregistered_tokens.add("dead")
    token = get_token(
        fake_fcm, assertion(throwaway_rsa_key(), fake_service_account.client_email)
    ).json()["access_token"]
    response = send_raw(fake_fcm, token, {"token": "dead"})
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": 404,
            "status": "NOT_FOUND",
            "message": "Requested entity was not found.",
            "details": [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": "UNREGISTERED",
                }
            ],
        }
    }


# Both fakes on one port, as a separate process


def test_standalone_process_serves_both_providers(settings, tmp_path):
    key_file = tmp_path / "service-account.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.providers",
            "--port",
            "0",
            "--write-service-account",
            str(key_file),
            "--status-callbacks",
            "",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=settings.BASE_DIR,
    )
    try:
        line = process.stdout.readline()
        assert "listening on" in line, line
        base_url = line.rsplit(" ", 1)[1].strip()
        settings.SMS_BACKEND = "alerts.channels.twilio.TwilioSmsBackend"
        settings.TWILIO_ACCOUNT_SID = FakeTwilio().account_sid
        settings.TWILIO_AUTH_TOKEN = FakeTwilio().auth_token
        settings.TWILIO_FROM = "+4570112112"
        settings.TWILIO_API_BASE = base_url
        settings.PUSH_BACKEND = "alerts.channels.fcm.FcmPushBackend"
        settings.FIREBASE_CREDENTIALS_FILE = str(key_file)
        settings.FCM_API_BASE = base_url

        assert get_sms_backend().send(SmsMessage(to=NUMBER, body="Hjertestop")).startswith("SM")
        name = get_push_backend().send(PushMessage(token="t", title="Hjertestop", body="Kom"))
        assert name.startswith("projects/hjertealarm-demo/messages/")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_one_server_can_host_both_fakes():
    from tests.fakes import FakeFCM

    twilio, fcm = FakeTwilio(), FakeFCM(verify_signatures=False)
    with ProviderServer([twilio, fcm]) as server:
        assert twilio.base_url == fcm.base_url == server.base_url
        assert post_sms(twilio).status_code == 201
        unsigned = "e30.eyJpc3MiOiAieCJ9.c2ln"  # {} . {"iss": "x"} . "sig": bad claims
        assert get_token(fcm, unsigned).status_code == 400
        assert requests.get(f"{server.base_url}/nothing", timeout=5).status_code == 404
