"""The language of every page (config.language): Danish whatever the browser's
Accept-Language says; English only as the user's explicit choice, remembered in a cookie."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from amk.access import DISPATCHERS_GROUP
from tests.factories import UserFactory


@pytest.fixture
def console(client, db):
    user = UserFactory(username="disponent")
    user.groups.add(Group.objects.get_or_create(name=DISPATCHERS_GROUP)[0])
    client.force_login(user)
    return client


def test_an_english_browser_gets_danish(console):
    response = console.get(reverse("amk:incident_list"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    html = response.content.decode()
    assert '<html lang="da">' in html
    assert "Hændelser" in html
    assert response["Content-Language"] == "da"
    # Also before logging in.
    login = Client().get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Log ind" in login.content.decode()


def test_english_is_the_users_choice_and_is_remembered(console):
    list_url = reverse("amk:incident_list")
    page = console.get(list_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'action="{reverse("amk:set_language")}"' in page  # the switch in the header

    response = console.post(reverse("amk:set_language"), {"language": "en", "next": list_url})
    assert response.status_code == 302
    assert response.url == list_url
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "en"
    assert cookie["max-age"] == settings.LANGUAGE_COOKIE_AGE
    assert cookie["httponly"]

    html = console.get(list_url, HTTP_ACCEPT_LANGUAGE="da").content.decode()
    assert '<html lang="en">' in html
    assert "Incidents" in html

    console.post(reverse("amk:set_language"), {"language": "da", "next": list_url})
    assert '<html lang="da">' in console.get(list_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_an_unknown_language_in_the_cookie_is_danish(console):
    console.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    assert '<html lang="da">' in console.get(reverse("amk:incident_list")).content.decode()
