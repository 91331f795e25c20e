"""The real client address (config.client_ip): X-Forwarded-For counts only from trusted proxies,
so rotating it escapes neither the per-IP throttles nor the console's lock-out."""

import pytest
from django.test import RequestFactory, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from config.client_ip import client_ip, trusted_proxies_parse

pytestmark = pytest.mark.django_db


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@override_settings(TRUSTED_PROXIES=0)
def test_without_trusted_proxies_the_header_is_ignored():
    assert client_ip(_request("203.0.113.7", "1.2.3.4")) == "203.0.113.7"


@override_settings(TRUSTED_PROXIES=1)
def test_a_count_of_proxies_takes_the_hop_the_outermost_proxy_saw():
    # The client wrote "1.2.3.4"; our one proxy appended the address it saw.
    assert client_ip(_request("10.0.0.2", "1.2.3.4, 198.51.100.9")) == "198.51.100.9"
    assert client_ip(_request("10.0.0.2")) == "10.0.0.2"


@override_settings(TRUSTED_PROXIES=trusted_proxies_parse("10.0.0.0/8, 192.168.1.1"))
def test_a_list_of_proxies_trusts_the_header_only_from_them():
    assert client_ip(_request("10.0.0.2", "1.2.3.4, 198.51.100.9")) == "198.51.100.9"
    assert client_ip(_request("10.0.0.2", "198.51.100.9, 192.168.1.1")) == "198.51.100.9"
    assert client_ip(_request("203.0.113.7", "1.2.3.4")) == "203.0.113.7"  # untrusted peer
    assert client_ip(_request("10.0.0.2", "<script>, 10.1.1.1")) == "10.1.1.1"  # garbage


def test_the_setting_is_parsed_or_refused():
    assert trusted_proxies_parse("") == 0
    assert trusted_proxies_parse("2") == 2
    with pytest.raises(ValueError, match="does not appear to be"):
        trusted_proxies_parse("proxy.example")


def _rates(settings, **rates):
    merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged}


@pytest.mark.parametrize("trusted", [0, 1])
def test_rotating_x_forwarded_for_does_not_escape_the_per_ip_throttle(
    fresh_cache, settings, trusted
):
    settings.TRUSTED_PROXIES = trusted
    _rates(settings, otp_ip="3/hour", otp_phone="100/hour")
    api = APIClient()
    codes = []
    for i in range(8):
        # With one trusted proxy, the proxy appends the real peer it saw: always the same one.
        forwarded = f"198.51.100.{i}" + (", 203.0.113.7" if trusted else "")
        response = api.post(
            "/api/v1/auth/code/",
            {"phone": f"+45601234{i:02d}"},
            REMOTE_ADDR="10.0.0.2" if trusted else "203.0.113.7",
            HTTP_X_FORWARDED_FOR=forwarded,
        )
        codes.append(response.status_code)
    assert codes == [202] * 3 + [429] * 5


def test_rotating_x_forwarded_for_does_not_escape_the_console_lock_out(
    fresh_cache, settings, client, django_user_model
):
    settings.TRUSTED_PROXIES = 0
    settings.LOGIN_LOCKOUT_FAILURES = 3
    django_user_model.objects.create_user("disp", password="right-password-1")
    for i in range(5):
        client.post(
            reverse("login"),
            {"username": "disp", "password": "wrong"},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        )
    response = client.post(
        reverse("login"),
        {"username": "disp", "password": "right-password-1"},
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="198.51.100.200",
    )
    assert response.status_code == 200  # the form again, locked out: no redirect
    assert "_auth_user_id" not in client.session
