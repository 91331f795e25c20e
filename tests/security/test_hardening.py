"""Login lock-out, security headers (CSP, HSTS, cookies), webhooks under attack, malformed
console input, and logs without personal data."""

import logging
import re

import pytest
from django.contrib.auth import authenticate
from django.urls import reverse

from alerts.models import Alert, AlertDelivery
from amk.models import Incident
from config.security import STRICT_CSP, PersonalDataFilter, redact
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    DispatcherFactory,
    IncidentFactory,
    UserFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
TOKEN = "webhook-test-auth-token"


@pytest.fixture(autouse=True)
def _throttles_from_zero(fresh_cache):
    """Every test here counts throttles and lock-outs from zero."""


# --- Lock-out -----------------------------------------------------------------------------------


def _login(client, username, password, ip="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_dispatcher_password_brute_force_is_locked_out_with_a_danish_message(client, settings):
    dispatcher = DispatcherFactory(username="vagt1")
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        response = _login(client, "vagt1", "wrong")
        assert response.status_code == 200
        assert "For mange" not in response.content.decode()
    # Now even the right password is refused, and the page says why, in Danish.
    response = _login(client, "vagt1", PASSWORD)
    assert response.status_code == 200
    text = response.content.decode()
    assert "For mange mislykkede loginforsøg" in text
    assert "spærret" in text
    assert "_auth_user_id" not in client.session
    # The same account from another address is not locked out (no denial of service by one IP).
    assert _login(client, "vagt1", PASSWORD, ip="10.0.0.2").status_code == 302
    assert client.session["_auth_user_id"] == str(dispatcher.pk)


def test_the_lock_out_also_guards_the_admin_and_the_backend(client, settings):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    # The admin's login is the console's login (one lock-out, one second factor).
    response = client.get(reverse("admin:login") + "?next=/admin/")
    assert response.status_code == 302
    assert response.url == "/login/?next=%2Fadmin%2F"
    login = reverse("login") + "?next=/admin/"
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        client.post(login, {"username": "root", "password": "x"}, REMOTE_ADDR="10.0.0.9")
    response = client.post(
        login, {"username": "root", "password": PASSWORD}, REMOTE_ADDR="10.0.0.9"
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/", REMOTE_ADDR="10.0.0.9").status_code == 302


def test_many_addresses_against_one_account_are_stopped_too(client, settings):
    settings.LOGIN_LOCKOUT_FAILURES_PER_USER = 8
    DispatcherFactory(username="vagt2")
    for i in range(8):
        _login(client, "vagt2", "wrong", ip=f"10.1.0.{i}")
    assert "For mange" in _login(client, "vagt2", PASSWORD, ip="10.2.0.1").content.decode()


def test_a_successful_login_resets_the_count(client, settings):
    DispatcherFactory(username="vagt3")
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES - 1):
        _login(client, "vagt3", "wrong")
    assert _login(client, "vagt3", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES - 1):
        _login(client, "vagt3", "wrong")
    assert _login(client, "vagt3", PASSWORD).status_code == 302


def test_authenticate_without_a_request_is_still_counted(settings):
    UserFactory(username="svc")
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        assert authenticate(username="svc", password="nope") is None
    assert authenticate(username="svc", password=PASSWORD) is None


# --- Headers ------------------------------------------------------------------------------------


def test_console_pages_carry_a_strict_content_security_policy(client, reference_geography):
    client.force_login(DispatcherFactory())
    incident = IncidentFactory()
    for url in (
        reverse("login"),
        reverse("about"),
        reverse("amk:incident_list"),
        reverse("amk:incident_create"),
        reverse("amk:incident_detail", args=[incident.pk]),
        reverse("amk:incident_board", args=[incident.pk]),
    ):
        response = client.get(url)
        assert response["Content-Security-Policy"] == STRICT_CSP, url
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        if response["Content-Type"].startswith("text/html"):
            html = response.content.decode()
            # No inline code the policy would block: scripts are files or JSON data blocks.
            for tag in re.findall(r"<script\b[^>]*>", html):
                assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
            assert "<style" not in html, url
            assert " style=" not in html, url
            assert not re.search(r"\son[a-z]+=", html), url


def test_production_sets_hsts_secure_cookies_and_redirects_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    assert client.get(reverse("login")).status_code == 301
    response = client.get(reverse("login"), secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    response = client.post(reverse("login"), {"username": "x", "password": "y"}, secure=True)
    for cookie in response.cookies.values():
        assert cookie["secure"], cookie.key


# --- Webhooks -----------------------------------------------------------------------------------


@pytest.fixture
def signed(settings):
    from twilio.request_validator import RequestValidator

    settings.TWILIO_AUTH_TOKEN = TOKEN
    validator = RequestValidator(TOKEN)

    def post(client, name, params, signature=None):
        url = f"http://testserver{reverse(name)}"
        sig = signature if signature is not None else validator.compute_signature(url, params)
        return client.post(url, params, HTTP_X_TWILIO_SIGNATURE=sig)

    return post


@pytest.fixture
def open_alert(reference_geography):
    incident = IncidentFactory(state=Incident.State.DISPATCHING, dispatch_wave=1)
    volunteer = VolunteerFactory(phone="+4561234567")
    alert = AlertFactory(incident=incident, volunteer=volunteer, state=Alert.State.SENT)
    AlertDeliveryFactory(alert=alert, state=AlertDelivery.State.SENT, provider_message_id="SM1")
    return alert


def test_forged_or_unsigned_sms_replies_do_not_accept(client, signed, open_alert):
    form = {"From": "+4561234567", "Body": "JA"}
    assert signed(client, "twilio-inbound", form, signature="").status_code == 403
    assert signed(client, "twilio-inbound", form, signature="Zm9yZ2Vk").status_code == 403
    # Signed for another sender, replayed with this one's number.
    from twilio.request_validator import RequestValidator

    url = f"http://testserver{reverse('twilio-inbound')}"
    other = RequestValidator(TOKEN).compute_signature(url, {"From": "+4500000000", "Body": "JA"})
    assert signed(client, "twilio-inbound", form, signature=other).status_code == 403
    open_alert.refresh_from_db()
    assert open_alert.state == Alert.State.SENT


def test_a_replayed_sms_reply_accepts_once_and_sends_the_details_once(client, signed, open_alert):
    form = {"From": "+4561234567", "Body": "JA", "MessageSid": "SMin1"}
    for _ in range(3):
        assert signed(client, "twilio-inbound", form).status_code == 200
    open_alert.refresh_from_db()
    assert open_alert.state == Alert.State.ACCEPTED
    assert (
        AlertDelivery.objects.filter(alert=open_alert, kind=AlertDelivery.Kind.DETAILS).count() == 1
    )
    assert open_alert.incident.events.filter(kind="alert_accepted").count() == 1


@pytest.mark.parametrize(
    "form",
    [{}, {"MessageSid": "SM1"}, {"MessageStatus": "delivered"}, {"MessageSid": "", "x": "y"}],
)
def test_malformed_status_callbacks_get_a_clear_400(client, signed, open_alert, form):
    response = signed(client, "twilio-status", form)
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_webhooks_refuse_other_methods_and_unknown_statuses(client, signed, open_alert):
    assert client.get(reverse("twilio-status")).status_code == 405
    response = signed(client, "twilio-status", {"MessageSid": "SM1", "MessageStatus": "💥" * 500})
    assert response.status_code == 204
    assert AlertDelivery.objects.get(provider_message_id="SM1").state == AlertDelivery.State.SENT


# --- Malformed console input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"location": "not a place", "address": "x"},
        {"location": "91, 200", "address": "x"},
        {"location": "NaN, NaN", "address": "x"},
        {"location": "55.6761, 12.5683", "address": "x"},  # Copenhagen: outside the region
        {"location": "56.15, 10.2" + "0" * 5000, "address": "x" * 10000},
        {"location": "56.15,10.20", "address": "Store Torv 1", "exclusion_reasons": "bogus"},
        {"location": "\x00", "address": "\x00"},
    ],
)
def test_malformed_incident_forms_are_refused_with_a_message(client, reference_geography, data):
    client.force_login(DispatcherFactory())
    response = client.post(reverse("amk:incident_create"), data)
    assert response.status_code in (200, 400)
    assert not Incident.objects.exists()
    if response.status_code == 200:
        assert 'class="field-error"' in response.content.decode() or "errorlist" in (
            response.content.decode()
        )


def test_console_json_with_malformed_input_is_not_a_server_error(client, reference_geography):
    client.force_login(DispatcherFactory())
    for q in ("\x00", "'; DROP TABLE amk_incident; --", "%" * 200, "ø" * 1000):
        assert client.get(reverse("amk:place_search"), {"q": q}).status_code == 200
    assert (
        client.post(reverse("amk:incident_note", args=[10**12]), {"text": "x"}).status_code == 404
    )


# --- Logs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("SMS to +4561234567 failed", "+4561234567"),
        ("url To=%2B4561234567&Body=x", "4561234567"),
        ("location 56.156741, 10.210762 stored", "56.156741"),
        ("push_token=fcm-token-00000001 unregistered", "fcm-token-00000001"),
        ('{"token": "abc123def456ghi789"}', "abc123def456ghi789"),
        ("Authorization: Token 0123456789abcdef0123", "0123456789abcdef0123"),
        ("dQw4w9WgXcQ12345678901:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ", "APA91b"),
    ],
)
def test_personal_data_is_masked_in_log_lines(text, secret):
    assert secret not in redact(text)


def test_the_log_filter_masks_arguments_and_tracebacks():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "send to %s at %s", ("+4520000001", "56.123456"), None
    )
    try:
        raise ValueError("number +4520000002")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    PersonalDataFilter().filter(record)
    line = logging.Formatter().format(record)
    assert "+4520000001" not in line
    assert "56.123456" not in line
    assert "+4520000002" not in line


def test_the_filter_is_on_the_configured_handler_and_twilio_http_logs_stay_quiet(settings):
    assert "personal_data" in settings.LOGGING["handlers"]["console"]["filters"]
    root = logging.getLogger()
    assert (
        any(isinstance(f, PersonalDataFilter) for h in root.handlers for f in h.filters)
        or not root.handlers
    )
    assert logging.getLogger("twilio.http_client").getEffectiveLevel() >= logging.WARNING
    assert settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False


def test_dispatchers_still_log_in_when_the_cache_is_down(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    DispatcherFactory(username="vagt9")
    assert _login(client, "vagt9", "wrong").status_code == 200
    assert _login(client, "vagt9", PASSWORD).status_code == 302
