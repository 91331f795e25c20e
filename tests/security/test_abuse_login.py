"""Abuse: 200 wrong passwords for a dispatcher from outside, over HTTP through the real login
view, the real client-address logic (a trusted proxy's X-Forwarded-For) and the real lock-out;
then the dispatcher logs in from the dispatch centre's network.

Set ``ABUSE_LOGIN_RECORD=path.json`` to write the figures (docs/reliability.json keeps them
under ``abuse.dispatcher_login``).
"""

import json
import os
import re

import pytest
import requests

from amk.models.accounts import LoginEvent
from config.client_ip import trusted_proxies_parse
from tests.factories import DispatcherFactory

pytestmark = [pytest.mark.usefixtures("fresh_cache")]

PASSWORD = "correct horse battery staple"
WRONG = 200
DISPATCH = "10.20.0.0/16"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Client:
    """One browser behind the trusted proxy (the live server's peer, 127.0.0.1), which appends
    the address it really saw to whatever X-Forwarded-For the client wrote itself."""

    def __init__(self, base: str, address: str):
        self.base, self.address = base, address
        self.http = requests.Session()
        self.token = ""

    def _headers(self, spoofed: str) -> dict[str, str]:
        forwarded = f"{spoofed}, {self.address}" if spoofed else self.address
        return {"X-Forwarded-For": forwarded, "User-Agent": "abuse-test"}

    def attempt(self, password: str, spoofed: str = "") -> int:
        """One login over HTTP: 1 = logged in (and the console opens), 0 = refused."""
        headers = self._headers(spoofed)
        if not self.token:
            page = self.http.get(f"{self.base}/login/", headers=headers, timeout=10)
            self.token = CSRF.search(page.text).group(1)
        response = self.http.post(
            f"{self.base}/login/",
            data={"username": "vagt", "password": password, "csrfmiddlewaretoken": self.token},
            headers={**headers, "Referer": f"{self.base}/login/"},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code in {200, 302}, response.status_code
        if response.status_code != 302:
            return 0
        console = self.http.get(f"{self.base}/console/", headers=headers, timeout=10)
        assert console.status_code == 200
        return 1


@pytest.mark.django_db(transaction=True)
def test_200_wrong_passwords_from_outside_do_not_keep_the_dispatcher_out(live_server, settings):
    settings.TRUSTED_PROXIES = trusted_proxies_parse("127.0.0.1/32")
    settings.DISPATCH_NETWORKS = trusted_proxies_parse(DISPATCH)
    DispatcherFactory(username="vagt")
    base = live_server.url

    # Half from one address that rotates the X-Forwarded-For it writes itself, half from a
    # hundred addresses (a botnet): every one a wrong password.
    rotating = Client(base, "203.0.113.7")
    for i in range(WRONG // 2):
        rotating.attempt(f"guess-{i}", spoofed=f"10.20.0.{i % 250 + 1}")
    for i in range(WRONG // 2):
        Client(base, f"198.51.100.{i + 1}").attempt(f"guess-b{i}")

    # From outside, now even the right password is refused: by address and by username.
    outside_same = rotating.attempt(PASSWORD)
    outside_fresh = Client(base, "192.0.2.44").attempt(PASSWORD)
    # A dispatcher mistypes twice at the centre, then logs in: both failures are counted too.
    centre = Client(base, "10.20.3.17")
    inside_wrong = [centre.attempt("typo") for _ in range(2)]
    inside = centre.attempt(PASSWORD)

    assert outside_same == 0
    assert outside_fresh == 0
    assert inside_wrong == [0, 0]
    assert inside == 1

    events = {
        outcome: LoginEvent.objects.filter(outcome=outcome).count()
        for outcome in LoginEvent.Outcome.values
    }
    assert events["success"] == 1
    assert LoginEvent.objects.get(outcome="success").ip == "10.20.3.17"
    assert LoginEvent.objects.filter(from_dispatch_network=True).count() == 3
    # Every attempt is in the audit, under the address the proxy saw (never the spoofed one).
    assert events["wrong_password"] + events["locked"] == WRONG + 4
    assert not LoginEvent.objects.filter(ip__startswith="10.20.0.").exists()

    figures = {
        "wrong_passwords_from_outside": WRONG,
        "outside_one_address_rotating_x_forwarded_for": WRONG // 2,
        "outside_distinct_addresses": WRONG // 2,
        "audited_wrong_password": events["wrong_password"],
        "audited_refused_locked": events["locked"],
        "right_password_from_outside_logged_in": outside_same + outside_fresh,
        "right_password_from_dispatch_network_logged_in": inside,
        "limits": {
            "per_address_and_username": settings.LOGIN_LOCKOUT_FAILURES,
            "per_username": settings.LOGIN_LOCKOUT_FAILURES_PER_USER,
            "window_s": settings.LOGIN_LOCKOUT_WINDOW_S,
            "dispatch_networks": [DISPATCH],
        },
        "test": "tests/security/test_abuse_login.py (HTTP to the live server, trusted proxy)",
    }
    if path := os.environ.get("ABUSE_LOGIN_RECORD"):
        with open(path, "w") as out:
            json.dump(figures, out, indent=2)
