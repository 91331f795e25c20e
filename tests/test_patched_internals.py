"""The private internals of third-party libraries that the project patches or relies on.

Each library here is pinned to an exact version in pyproject.toml, with a comment naming what
the code touches. An upgrade must not silently undo a patch (Celery would reconnect slowly,
pushes would go to Google from the tests, the throttle would break): each test below checks one
internal and fails with a message naming the library, the internal and the pinned version.
"""

import datetime as dt
import inspect
import json
import re
import tomllib
import uuid
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone

ROOT = Path(__file__).resolve().parent.parent
_DEPENDENCIES = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "dependencies"
]
PINNED = ("Django", "kombu", "twilio", "firebase-admin", "django-rest-knox", "drf-spectacular")


def pin(distribution: str) -> str:
    """The exact version pyproject.toml pins ``distribution`` to."""
    pattern = re.compile(rf"^{re.escape(distribution)}(\[[^\]]*\])?==([^\s;,]+)$", re.I)
    for requirement in _DEPENDENCIES:
        match = pattern.match(requirement.strip())
        if match:
            return match.group(2)
    raise AssertionError(f"{distribution} is not pinned with == in pyproject.toml")


def changed(distribution: str, internal: str, use: str) -> str:
    return (
        f"{distribution} {version(distribution)} (pinned to {pin(distribution)} in "
        f"pyproject.toml): {internal} is gone or changed shape. {use} Adapt that code to the "
        f"new version, or go back to the pinned one."
    )


@pytest.mark.parametrize("distribution", PINNED)
def test_the_pinned_versions_are_installed(distribution):
    assert version(distribution) == pin(distribution), (
        f"{distribution} {version(distribution)} is installed, but pyproject.toml pins "
        f"{pin(distribution)} because the code relies on its internals: install the lock file "
        f"(README, Development)."
    )


# kombu ------------------------------------------------------------------------------------------


def test_kombu_connection_ensure_connection(monkeypatch):
    from kombu import Connection

    import config.celery

    why = changed(
        "kombu",
        "Connection._ensure_connection(interval_start, interval_step, interval_max)",
        "config.celery wraps it so that the worker and beat retry the broker every second.",
    )
    parameters = inspect.signature(config.celery._ensure_connection).parameters
    assert {"interval_start", "interval_step", "interval_max"} <= set(parameters), why
    assert Connection._ensure_connection is config.celery._ensure_connection_fast, why

    # The public ensure_connection() (what Celery calls) goes through the patched method.
    calls = []
    monkeypatch.setattr(config.celery, "_ensure_connection", lambda *a, **kw: calls.append(kw))
    Connection("memory://").ensure_connection(max_retries=1)
    assert calls, why
    assert calls[0] | {"max_retries": 1} == calls[0] | {
        "interval_start": 1,
        "interval_step": 0,
        "interval_max": 1,
        "max_retries": 1,
    }, why


# firebase-admin ---------------------------------------------------------------------------------

PUSH_TOKEN = "internals-test-registration-token"


@pytest.fixture
def firebase_app(fake_fcm, fake_service_account, tmp_path):
    """A named firebase-admin app of our own, with a service account the fake FCM trusts."""
    import firebase_admin
    from firebase_admin import credentials

    credential = credentials.Certificate(str(tmp_path / "firebase-service-account.json"))
    app = firebase_admin.initialize_app(
        credential, options={"httpTimeout": 2.0}, name=f"internals-{uuid.uuid4().hex}"
    )
    yield app
    firebase_admin.delete_app(app)


def _fake_url(fake_fcm, app) -> str:
    return f"{fake_fcm.base_url}/v1/projects/{app.project_id}/messages:send"


def _message(token: str = PUSH_TOKEN):
    from firebase_admin import messaging

    message = messaging.Message(data={"kind": "internals"})
    message.token = token  # as alerts.channels.fcm sets it (the argument is deprecated)
    return message


def test_firebase_get_messaging_service(firebase_app):
    from firebase_admin import messaging

    why = changed(
        "firebase-admin",
        "messaging._get_messaging_service(app), the app's own _MessagingService",
        "alerts.channels.fcm reads it to redirect and tune that app's FCM requests.",
    )
    assert callable(getattr(messaging, "_get_messaging_service", None)), why
    service = messaging._get_messaging_service(firebase_app)
    assert isinstance(service, messaging._MessagingService), why
    assert messaging._get_messaging_service(firebase_app) is service, why


def test_firebase_messaging_service_fcm_url(firebase_app, fake_fcm):
    from firebase_admin import messaging

    why = changed(
        "firebase-admin",
        "_MessagingService._fcm_url (the URL send() posts to)",
        "alerts.channels.fcm sets it from FCM_API_BASE; the tests' pushes go to the fake FCM.",
    )
    service = messaging._get_messaging_service(firebase_app)
    url = getattr(service, "_fcm_url", None)
    assert url == messaging._MessagingService.FCM_URL.format(firebase_app.project_id), why
    service._fcm_url = _fake_url(fake_fcm, firebase_app)
    try:
        messaging.send(_message(), app=firebase_app)
    except Exception as error:
        raise AssertionError(f"{why} send() failed: {error!r}") from error
    assert [push.token for push in fake_fcm.messages.all()] == [PUSH_TOKEN], why


def test_firebase_messaging_service_http_client(firebase_app, fake_fcm):
    from firebase_admin import messaging

    why = changed(
        "firebase-admin",
        "_MessagingService._client (.session, a requests.Session, and .close())",
        "alerts.channels.fcm mounts its retry policy on that session and closes it.",
    )
    service = messaging._get_messaging_service(firebase_app)
    client = getattr(service, "_client", None)
    assert isinstance(getattr(client, "session", None), requests.Session), why
    assert callable(getattr(client, "close", None)), why

    sent = []

    class RecordingAdapter(requests.adapters.HTTPAdapter):
        def send(self, request, *args, **kwargs):
            sent.append(request.url)
            return super().send(request, *args, **kwargs)

    service._fcm_url = _fake_url(fake_fcm, firebase_app)
    client.session.mount(fake_fcm.base_url, RecordingAdapter())
    messaging.send(_message(), app=firebase_app)
    assert sent == [service._fcm_url], why


def test_firebase_message_token_set_after_construction(firebase_app, fake_fcm):
    from firebase_admin import messaging

    from alerts.channels.base import PushMessage
    from alerts.channels.fcm import FcmPushBackend

    why = changed(
        "firebase-admin",
        "Message.token set after construction, sent by the message encoder",
        "alerts.channels.fcm sets it so (the token= argument warns on every message).",
    )
    # build_message() uses nothing of the backend's state: no app is needed to call it.
    backend = object.__new__(FcmPushBackend)
    built = backend.build_message(PushMessage(token=PUSH_TOKEN, title="Test", body="Internals"))
    assert built.token == PUSH_TOKEN, why
    messaging._get_messaging_service(firebase_app)._fcm_url = _fake_url(fake_fcm, firebase_app)
    try:
        messaging.send(built, app=firebase_app)
    except Exception as error:
        raise AssertionError(f"{why} send() failed: {error!r}") from error
    assert [push.token for push in fake_fcm.messages.all()] == [PUSH_TOKEN], why


# Django -----------------------------------------------------------------------------------------


def test_django_redis_cache_client_get_client(fresh_cache):
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache, RedisCacheClient

    from config.api import _window_hit

    why = changed(
        "Django",
        "RedisCache._cache.get_client(key, write=True), the redis-py client of a key",
        "config.api._window_hit counts a throttle window in one pipelined round trip with it.",
    )
    cache = caches["default"]
    assert isinstance(cache, RedisCache), "the test settings use Django's Redis cache"
    assert isinstance(cache._cache, RedisCacheClient), why
    parameters = inspect.signature(RedisCacheClient.get_client).parameters
    assert "key" in parameters, why
    assert parameters.get("write")
    assert parameters["write"].kind is inspect.Parameter.KEYWORD_ONLY
    client = cache._cache.get_client(cache.make_and_validate_key("probe"), write=True)
    assert callable(getattr(client, "pipeline", None)), why

    key = f"internals-{uuid.uuid4().hex}"
    assert [_window_hit(key, 60)[0], _window_hit(key, 60)[0]] == [1, 2], why
    cache.delete(key)


# drf-spectacular --------------------------------------------------------------------------------


def test_drf_spectacular_get_serializer_name():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

    why = changed(
        "drf-spectacular",
        "AutoSchema._get_serializer_name(serializer, direction, ...)",
        "config.api.AutoSchema overrides it to name each view's InputSerializer/"
        "OutputSerializer after the view (SignUpInput, not Input).",
    )
    method = getattr(SpectacularAutoSchema, "_get_serializer_name", None)
    assert callable(method), why
    assert list(inspect.signature(method).parameters)[:3] == ["self", "serializer", "direction"]

    names = set(SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"])
    bare = {"Input", "Output", "InputRequest", "PatchedInputRequest"} & names
    assert not bare, f"{why} Components named without their view: {sorted(bare)}"
    assert any(re.fullmatch(r"[A-Z]\w+(Input|Output)(Request)?", name) for name in names), why


# twilio -----------------------------------------------------------------------------------------


def test_twilio_api_domain_base_url():
    from twilio.http.http_client import TwilioHttpClient
    from twilio.http.response import Response
    from twilio.rest import Client

    why = changed(
        "twilio",
        "Client.api.base_url (Domain.base_url, which Domain.absolute_url builds on)",
        "alerts.channels.twilio sets it from TWILIO_API_BASE; the tests' SMS go to the fake.",
    )

    class RecordingHttpClient(TwilioHttpClient):
        def __init__(self):
            super().__init__(timeout=2.0)
            self.urls = []

        def request(self, method, url, *args, **kwargs):
            self.urls.append(url)
            return Response(201, json.dumps({"sid": "SM" + "0" * 32, "status": "queued"}))

    http_client = RecordingHttpClient()
    client = Client("AC" + "0" * 32, "auth-token", http_client=http_client)
    assert isinstance(getattr(client.api, "base_url", None), str), why
    client.api.base_url = "http://127.0.0.1:9"
    client.messages.create(to="+4520000000", from_="+4570112112", body="Internals")
    assert len(http_client.urls) == 1, why
    assert http_client.urls[0].startswith("http://127.0.0.1:9/2010-04-01/Accounts/AC"), (
        f"{why} The request went to {http_client.urls[0]}"
    )


# django-rest-knox -------------------------------------------------------------------------------


@pytest.fixture
def knox_token(db):
    from knox.models import AuthToken

    user = get_user_model().objects.create_user(username=f"internals-{uuid.uuid4().hex[:8]}")
    token, key = AuthToken.objects.create(user=user)
    return token, key


def test_knox_token_table_and_digest(knox_token):
    from knox.crypto import hash_token
    from knox.models import AuthToken

    why = changed(
        "django-rest-knox",
        "the table knox_authtoken (digest, created, expiry, user_id) and crypto.hash_token",
        "The location fast path checks a token in SQL on that table by hash_token's digest.",
    )
    token, key = knox_token
    assert AuthToken._meta.db_table == "knox_authtoken", why
    columns = {field.column for field in AuthToken._meta.concrete_fields}
    assert {"digest", "created", "expiry", "user_id"} <= columns, why
    assert hash_token(key) == token.digest, why


def test_knox_settings_read_by_the_fast_path():
    from knox.settings import knox_settings

    why = changed(
        "django-rest-knox",
        "knox_settings AUTH_HEADER_PREFIX, AUTO_REFRESH, TOKEN_TTL, AUTO_REFRESH_MAX_TTL and "
        "MIN_REFRESH_INTERVAL",
        "The location fast path reads them to check and renew a token as knox does.",
    )
    try:
        values = {
            "AUTH_HEADER_PREFIX": knox_settings.AUTH_HEADER_PREFIX,
            "AUTO_REFRESH": knox_settings.AUTO_REFRESH,
            "TOKEN_TTL": knox_settings.TOKEN_TTL,
            "AUTO_REFRESH_MAX_TTL": knox_settings.AUTO_REFRESH_MAX_TTL,
            "MIN_REFRESH_INTERVAL": knox_settings.MIN_REFRESH_INTERVAL,
        }
    except AttributeError as error:
        raise AssertionError(f"{why} {error}") from error
    assert isinstance(values["AUTH_HEADER_PREFIX"], str), why
    assert isinstance(values["AUTO_REFRESH"], bool), why
    assert values["TOKEN_TTL"] is None or isinstance(values["TOKEN_TTL"], dt.timedelta), why
    assert isinstance(values["AUTO_REFRESH_MAX_TTL"], dt.timedelta | None), why
    assert isinstance(values["MIN_REFRESH_INTERVAL"], int | float), why


def test_knox_renewal_rule_redone_in_sql(knox_token):
    from knox.auth import TokenAuthentication
    from knox.settings import knox_settings

    why = changed(
        "django-rest-knox",
        "TokenAuthentication.renew_token's rule (now + TOKEN_TTL, capped at created + "
        "AUTO_REFRESH_MAX_TTL, written only when it moves by more than MIN_REFRESH_INTERVAL)",
        "The location fast path renews tokens in SQL by the same rule.",
    )
    token, _key = knox_token
    max_ttl = knox_settings.AUTO_REFRESH_MAX_TTL
    min_refresh = dt.timedelta(seconds=knox_settings.MIN_REFRESH_INTERVAL)
    assert max_ttl is not None, "the settings cap renewals (REST_KNOX AUTO_REFRESH_MAX_TTL)"
    assert min_refresh + dt.timedelta(days=2) < knox_settings.TOKEN_TTL
    now = timezone.now()
    # Created long ago: the cap (created + max TTL) is two days away, before now + TOKEN_TTL.
    token.created = now - max_ttl + dt.timedelta(days=2)
    token.expiry = now + dt.timedelta(hours=1)
    token.save(update_fields=["created", "expiry"])
    TokenAuthentication().renew_token(token)
    token.refresh_from_db()
    assert token.expiry == token.created + max_ttl, why

    # A renewal that moves the expiry by less than MIN_REFRESH_INTERVAL is not written.
    stored = token.created + max_ttl - min_refresh / 2
    token.expiry = stored
    token.save(update_fields=["expiry"])
    TokenAuthentication().renew_token(token)
    token.refresh_from_db()
    assert token.expiry == stored, why


def test_knox_cleanup_token_hook(knox_token, monkeypatch):
    from knox.auth import TokenAuthentication

    from config.api import LeanTokenAuthentication

    why = changed(
        "django-rest-knox",
        "TokenAuthentication._cleanup_token(auth_token) -> bool, called per matching token",
        "config.api.LeanTokenAuthentication overrides it so that a request costs one query.",
    )
    assert callable(getattr(TokenAuthentication, "_cleanup_token", None)), why
    assert list(inspect.signature(TokenAuthentication._cleanup_token).parameters) == [
        "self",
        "auth_token",
    ], why
    token, key = knox_token
    calls = []
    original = LeanTokenAuthentication._cleanup_token

    def spy(self, auth_token):
        calls.append(auth_token.pk)
        return original(self, auth_token)

    monkeypatch.setattr(LeanTokenAuthentication, "_cleanup_token", spy)
    user, authenticated = LeanTokenAuthentication().authenticate_credentials(key.encode())
    assert (user.pk, authenticated.pk) == (token.user_id, token.pk)
    assert calls == [token.pk], why
