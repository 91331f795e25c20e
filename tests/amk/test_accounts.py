"""The console's and the admin's accounts: the login audit, the lock-out's dispatch networks,
the second factor (TOTP), and the idle and shift time-outs."""

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from amk import tasks as amk_tasks  # noqa: F401  registers the retention task
from amk.models.accounts import LoginEvent
from amk.services import accounts
from config.celery import app as celery_app
from config.client_ip import trusted_proxies_parse
from tests.factories import DispatcherFactory, UserFactory, VolunteerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

PASSWORD = "correct horse battery staple"
OTP_ON = override_settings(OTP_REQUIRED=True, OTP_TOTP_THROTTLE_FACTOR=0)


def _login(client, username, password=PASSWORD, ip="192.0.2.10", **extra):
    return client.post(
        reverse("login"),
        {"username": username, "password": password, **extra},
        REMOTE_ADDR=ip,
        HTTP_USER_AGENT="Mozilla/5.0 " + "x" * 400,
    )


def _code(device: TOTPDevice, drift: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, drift)
    return f"{totp.token():0{device.digits}d}"


# --- The audit ----------------------------------------------------------------------------------


def test_logins_failures_lock_outs_and_logouts_are_audited(client, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    dispatcher = DispatcherFactory(username="vagt")
    _login(client, "vagt", "wrong")
    _login(client, "nobody", "wrong")
    _login(client, "vagt", "wrong")
    _login(client, "vagt")  # locked out now, right password or not
    assert _login(client, "vagt", ip="192.0.2.11").status_code == 302
    client.post(reverse("logout"), REMOTE_ADDR="192.0.2.11")

    rows = list(LoginEvent.objects.order_by("at", "pk"))
    assert [(r.username, r.outcome) for r in rows] == [
        ("vagt", "wrong_password"),
        ("nobody", "wrong_password"),
        ("vagt", "wrong_password"),
        ("vagt", "locked"),
        ("vagt", "success"),
        ("vagt", "logout"),
    ]
    assert rows[0].user is None
    assert rows[0].ip == "192.0.2.10"
    assert rows[4].user == dispatcher
    assert rows[4].ip == "192.0.2.11"
    assert all(len(r.user_agent) == LoginEvent.USER_AGENT_MAX for r in rows[:5])
    assert not any(r.from_dispatch_network for r in rows)


def test_the_audit_is_pruned_after_its_retention_by_the_scheduled_task(settings):
    old = LoginEvent.objects.create(username="a", outcome="success")
    recent = LoginEvent.objects.create(username="b", outcome="success")
    cutoff = timezone.now() - timedelta(days=settings.LOGIN_EVENT_RETENTION_DAYS)
    LoginEvent.objects.filter(pk=old.pk).update(at=cutoff - timedelta(hours=1))
    LoginEvent.objects.filter(pk=recent.pk).update(at=cutoff + timedelta(hours=1))
    task = django_settings.CELERY_BEAT_SCHEDULE["login-events-expire"]["task"]
    assert celery_app.tasks[task].apply().get() == 1
    assert list(LoginEvent.objects.values_list("username", flat=True)) == ["b"]


def test_the_audit_is_read_only_in_the_admin(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    event = LoginEvent.objects.create(username="vagt", outcome="wrong_password", ip="192.0.2.1")
    url = reverse("admin:amk_loginevent_changelist")
    assert "192.0.2.1" in client.get(url).content.decode()
    assert client.get(reverse("admin:amk_loginevent_add")).status_code == 403
    detail = client.get(reverse("admin:amk_loginevent_change", args=[event.pk]))
    assert detail.status_code == 200
    assert 'name="username"' not in detail.content.decode()  # shown, not editable
    assert client.post(reverse("admin:amk_loginevent_delete", args=[event.pk])).status_code == 403


# --- Dispatch networks --------------------------------------------------------------------------


def test_the_dispatch_network_is_never_refused_the_right_password(client, settings):
    settings.DISPATCH_NETWORKS = trusted_proxies_parse("10.20.0.0/16, fd00:112::/48")
    settings.LOGIN_LOCKOUT_FAILURES_PER_USER = 6
    DispatcherFactory(username="vagt")
    for i in range(10):
        _login(client, "vagt", "wrong", ip=f"198.51.100.{i}")
    assert _login(client, "vagt", ip="198.51.100.99").status_code == 200  # locked outside
    # Inside: failures are counted and audited, and the right password still gets in.
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES + 2):
        assert _login(client, "vagt", "wrong", ip="10.20.1.5").status_code == 200
    assert _login(client, "vagt", ip="10.20.1.5").status_code == 302
    client.logout()
    assert _login(client, "vagt", ip="fd00:112::7").status_code == 302
    inside = LoginEvent.objects.filter(from_dispatch_network=True)
    assert inside.filter(outcome="wrong_password").count() == settings.LOGIN_LOCKOUT_FAILURES + 2
    assert inside.filter(outcome="success").count() == 2
    assert not inside.filter(outcome="locked").exists()


# --- The second factor --------------------------------------------------------------------------


@OTP_ON
def test_first_login_enrols_a_totp_device_then_the_code_is_asked_every_time(client):
    dispatcher = DispatcherFactory(username="vagt")
    response = _login(client, "vagt", next="/console/incidents/new/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login_otp_enrol"))
    # Password alone reaches no console page.
    assert client.get("/console/").url.startswith(reverse("login_otp"))
    assert client.get("/admin/").status_code == 302
    assert client.get(reverse("login_otp")).url.startswith(reverse("login_otp_enrol"))

    page = client.get(response.url)
    html = page.content.decode()
    assert "<svg" in html
    assert 'id="otp-secret"' in html
    device = TOTPDevice.objects.get(user=dispatcher, confirmed=False)
    assert accounts.totp_secret_base32(device).replace(" ", "") in html.replace(" ", "")
    wrong = client.post(reverse("login_otp_enrol"), {"token": "000000", "next": "/console/"})
    assert wrong.status_code == 200
    assert "Forkert kode" in wrong.content.decode()
    ok = client.post(reverse("login_otp_enrol"), {"token": _code(device), "next": "/console/"})
    assert ok.status_code == 302
    assert ok.url == "/console/"
    assert client.get("/console/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed

    client.post(reverse("logout"))
    response = _login(client, "vagt")
    assert response.url.startswith(reverse("login_otp"))
    assert not response.url.startswith(reverse("login_otp_enrol"))
    assert client.get(reverse("login_otp_enrol")).url.startswith(reverse("login_otp"))
    used = client.post(reverse("login_otp"), {"token": _code(device)})  # already used: refused
    assert used.status_code == 200
    fresh = client.post(reverse("login_otp"), {"token": _code(device, drift=1)})
    assert fresh.status_code == 302
    assert fresh.url == reverse("amk:incident_list")
    assert client.get("/console/").status_code == 200
    outcomes = list(LoginEvent.objects.order_by("at", "pk").values_list("outcome", flat=True))
    assert outcomes == ["success", "wrong_otp", "logout", "success", "wrong_otp"]


@OTP_ON
def test_staff_need_the_code_for_the_admin_and_volunteers_never_see_it(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    response = client.get("/admin/", follow=True, REMOTE_ADDR="192.0.2.5")
    assert response.redirect_chain[-1][0] == "/login/?next=%2Fadmin%2F"
    response = _login(client, "root", next="/admin/")
    assert response.url == reverse("login_otp") + "?next=%2Fadmin%2F"
    assert client.get("/admin/").url.startswith(reverse("login_otp"))
    assert client.post(response.url, {"token": _code(device)}).url == "/admin/"
    assert client.get("/admin/").status_code == 200

    volunteer_user = VolunteerFactory().user
    client.logout()
    client.force_login(volunteer_user)
    assert client.get(reverse("login_otp")).status_code == 302  # nothing to enter
    assert client.get("/console/").status_code == 403  # the console's own refusal


def test_without_otp_required_the_password_is_enough(client):
    DispatcherFactory(username="vagt")
    response = _login(client, "vagt")
    assert response.url == reverse("amk:incident_list")
    assert client.get("/console/").status_code == 200


# --- Idle and shift time-outs -------------------------------------------------------------------


def _age_session(client, *, idle_s: float = 0, since_login_s: float = 0) -> None:
    session = client.session
    now = time.time()
    session[accounts.SESSION_ACTIVE_KEY] = now - idle_s
    session[accounts.SESSION_STARTED_KEY] = now - max(idle_s, since_login_s)
    session.save()


def test_polling_is_not_activity_and_an_idle_session_is_logged_out(client, settings):
    client.force_login(DispatcherFactory(username="vagt"))
    poll = {"HTTP_X_CONSOLE_POLL": "1"}
    _age_session(client, idle_s=settings.SESSION_IDLE_TIMEOUT_S - 60)
    before = client.session[accounts.SESSION_ACTIVE_KEY]
    assert client.get("/console/?fragment=rows", **poll).status_code == 200
    assert client.session[accounts.SESSION_ACTIVE_KEY] == before  # a poll does not count
    status = client.get(reverse("amk:session_status"), **poll).json()
    assert 50 <= status["idle_remaining_s"] <= 60
    assert status["warning_s"] == settings.SESSION_IDLE_WARNING_S

    # "Stay logged in" counts, and so does any page the dispatcher opens.
    kept = client.post(reverse("amk:session_status")).json()
    assert kept["idle_remaining_s"] >= settings.SESSION_IDLE_TIMEOUT_S - 1
    _age_session(client, idle_s=settings.SESSION_IDLE_TIMEOUT_S - 60)
    assert client.get("/console/").status_code == 200
    assert client.get(reverse("amk:session_status"), **poll).json()["idle_remaining_s"] > 60

    # Idle past the limit: the poll gets 401 (the page reloads to the login), and it is audited.
    _age_session(client, idle_s=settings.SESSION_IDLE_TIMEOUT_S + 1)
    response = client.get("/console/?fragment=rows", **poll)
    assert response.status_code == 401
    assert "_auth_user_id" not in client.session
    assert LoginEvent.objects.filter(outcome="timeout").count() == 1
    assert not LoginEvent.objects.filter(outcome="logout").exists()
    # The page the dispatcher comes back to says why (once).
    page = client.get("/console/", follow=True).content.decode()
    assert "uden aktivitet" in page
    assert "uden aktivitet" not in client.get("/login/").content.decode()


def test_a_session_ends_after_a_shift_even_when_active(client, settings):
    client.force_login(DispatcherFactory(username="vagt"))
    _age_session(client, idle_s=5, since_login_s=settings.SESSION_MAX_AGE_S + 1)
    response = client.get("/console/incidents/new/")
    assert response.status_code == 302
    assert response.url == "/login/?reason=shift&next=%2Fconsole%2Fincidents%2Fnew%2F"
    assert "_auth_user_id" not in client.session
    assert LoginEvent.objects.get().outcome == "timeout"


def test_console_pages_carry_the_idle_warning(client, settings):
    client.force_login(DispatcherFactory(username="vagt"))
    html = client.get("/console/").content.decode()
    assert 'id="session-warning"' in html
    assert f'data-warning-s="{settings.SESSION_IDLE_WARNING_S}"' in html
    assert "Bliv logget ind" in html


def test_the_admin_lists_devices_without_their_keys(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    client.force_login(admin)
    page = client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert device.key not in html
    assert accounts.totp_secret_base32(device).replace(" ", "") not in html


def test_a_dispatcher_who_opens_the_admin_gets_403_not_a_login_loop(client):
    client.force_login(DispatcherFactory(username="vagt"))
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert [url for url, _status in response.redirect_chain] == ["/admin/login/?next=/admin/"]
