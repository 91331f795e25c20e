"""Privacy, checked on the database rows: the retention jobs that Celery beat runs, and an
erased account, whose person must be found in no text column of any table afterwards."""

import datetime as dt
from importlib import import_module

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient
from twilio.base.exceptions import TwilioRestException

from alerts.channels.twilio import error_from_twilio
from alerts.models import Alert, AlertDelivery
from alerts.services import answers, inbound, sending, waves
from alerts.services.codes import login_code_send
from alerts.services.debriefs import debrief_submit
from amk.services import incidents as amk_services
from config.celery import app
from tests.delivery import delivery_send
from tests.factories import AARHUS_C, DeviceFactory, DispatcherFactory, VolunteerFactory, point
from volunteers.models import Consent, PhoneCode, Volunteer
from volunteers.services.accounts import auth_token_create

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def _run_scheduled(task_name: str):
    """Run a retention task the way beat names it in CELERY_BEAT_SCHEDULE."""
    from django.conf import settings

    assert task_name in {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    import_module(task_name.rsplit(".", 1)[0])  # registers it, as the worker's autodiscovery
    return app.tasks[task_name].apply().get()


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- Retention ---------------------------------------------------------------------------------


def test_current_locations_older_than_24_hours_are_cleared_in_the_table(settings):
    settings.LOCATION_RETENTION_S = 24 * 3600
    now = timezone.now()
    stale = [VolunteerFactory(location_updated_at=now - 25 * HOUR) for _ in range(3)]
    fresh = VolunteerFactory(location_updated_at=now - 23 * HOUR)

    assert _run_scheduled("volunteers.tasks.locations_expire_task") == 3

    assert _rows(
        "SELECT count(*) FROM volunteers_volunteer WHERE location_updated_at < now() - "
        "interval '24 hours' OR (location_updated_at IS NULL AND (location IS NOT NULL OR "
        "location_accuracy_m IS NOT NULL))"
    ) == [(0,)]
    cleared = _rows(
        "SELECT location, location_updated_at, location_accuracy_m FROM volunteers_volunteer "
        "WHERE id = ANY(%s)",
        [[v.pk for v in stale]],
    )
    assert cleared == [(None, None, None)] * 3
    assert _rows(
        "SELECT location IS NOT NULL FROM volunteers_volunteer WHERE id = %s", [fresh.pk]
    ) == [(True,)]


def test_alert_location_snapshots_older_than_30_days_are_cleared_in_the_table(
    reference_geography,
):
    volunteer = VolunteerFactory()
    incident = amk_services.incident_create(
        created_by=DispatcherFactory(), location=point(*AARHUS_C), address="Store Torv 1"
    )
    old = Alert.objects.create(
        incident=incident, volunteer=volunteer, pool="app", wave=1, distance_m=100,
        volunteer_location=point(*AARHUS_C),
    )  # fmt: skip
    recent = Alert.objects.create(
        incident=amk_services.incident_create(
            created_by=DispatcherFactory(), location=point(*AARHUS_C), address="Store Torv 2"
        ),
        volunteer=volunteer, pool="app", wave=1, distance_m=100,
        volunteer_location=point(*AARHUS_C),
    )  # fmt: skip
    Alert.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=31))

    assert _run_scheduled("alerts.tasks.alert_locations_expire_task") == 1

    assert _rows(
        "SELECT count(*) FROM alerts_alert WHERE volunteer_location IS NOT NULL "
        "AND created_at < now() - interval '30 days'"
    ) == [(0,)]
    # The alert itself stays (statistics), with its volunteer; only the position goes.
    assert _rows(
        "SELECT id, volunteer_id, volunteer_location IS NULL FROM alerts_alert ORDER BY id"
    ) == [(old.pk, volunteer.pk, True), (recent.pk, volunteer.pk, False)]


def test_expired_and_used_codes_and_expired_tokens_are_removed_from_the_tables():
    volunteer = VolunteerFactory()
    now = timezone.now()
    expired = PhoneCode.objects.create(phone="+4560000001", code_hash="a", expires_at=now - HOUR)
    used_long_ago = PhoneCode.objects.create(
        phone="+4560000002", code_hash="b", expires_at=now + HOUR, used_at=now - 2 * HOUR
    )
    just_used = PhoneCode.objects.create(
        phone="+4560000003", code_hash="c", expires_at=now + HOUR, used_at=now - HOUR / 2
    )
    live = PhoneCode.objects.create(phone="+4560000004", code_hash="d", expires_at=now + HOUR)
    old_token, _ = AuthToken.objects.create(user=volunteer.user, expiry=dt.timedelta(seconds=-1))
    auth_token_create(user=volunteer.user)

    result = _run_scheduled("volunteers.tasks.auth_cleanup_task")

    assert result == {"codes": 2, "tokens": 1, "code_sends": 0}
    remaining = {pk for (pk,) in _rows("SELECT id FROM volunteers_phonecode")}
    assert remaining == {just_used.pk, live.pk}
    assert expired.pk not in remaining
    assert used_long_ago.pk not in remaining
    assert _rows("SELECT count(*) FROM knox_authtoken WHERE expiry < now()") == [(0,)]
    assert _rows("SELECT count(*) FROM knox_authtoken WHERE digest = %s", [old_token.digest]) == [
        (0,)
    ]
    assert _rows("SELECT count(*) FROM knox_authtoken WHERE user_id = %s", [volunteer.user_id]) == [
        (1,)
    ]


# --- Erasure -----------------------------------------------------------------------------------

PHONE = "+4529871436"
FIRST, LAST = "Ydrasil", "Quornbeck-Zylstrup"
EMAIL = "ydrasil.quornbeck@example.dk"
PUSH_TOKEN = "fcm-privacy-7f3a9c2e5b1d4a8f"
COMMENT = "Ydrasil here: it was hard"


def _text_columns() -> list[tuple[str, str]]:
    return _rows(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
        "AND c.data_type IN ('character varying', 'character', 'text', 'json', 'jsonb', 'ARRAY') "
        "AND c.table_name <> 'spatial_ref_sys'"
    )


def _where_found(needles: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a text column holds one of the needles."""
    found = []
    for table, column in _text_columns():
        for needle in needles:
            hits = _rows(
                f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',  # noqa: S608  catalog identifiers; the value is a parameter
                [f"%{needle}%"],
            )
            if hits[0][0]:
                found.append((table, column, needle))
    return found


def test_an_erased_account_leaves_no_personal_data_in_any_table(reference_geography, monkeypatch):
    # The person signs up: a code by SMS, consents, the app's device and token.
    login_code_send(phone=PHONE)
    volunteer = VolunteerFactory(
        phone=PHONE,
        user__first_name=FIRST,
        user__last_name=LAST,
        user__email=EMAIL,
        user__username=f"{FIRST.lower()}-{PHONE}",
    )
    Consent.objects.create(volunteer=volunteer, kind="terms", version="2025-01")
    key = auth_token_create(user=volunteer.user)
    DeviceFactory(volunteer=volunteer, push_token=PUSH_TOKEN)
    # An administrator edits the profile (the admin keeps a log with the person's name).
    LogEntry.objects.log_actions(
        user_id=DispatcherFactory(is_staff=True).pk,
        queryset=[volunteer],
        action_flag=CHANGE,
        change_message="Changed corps",
        single_object=True,
    )
    # An alert by push; the person accepts, the details SMS is refused with their number in
    # Twilio's error text; they send a debrief.
    incident = amk_services.incident_create(
        created_by=DispatcherFactory(), location=point(*AARHUS_C), address="Store Torv 1"
    )
    waves.incident_dispatch(incident_id=incident.pk)
    alert = Alert.objects.get(incident=incident, volunteer=volunteer)
    for delivery in AlertDelivery.objects.filter(alert=alert):
        delivery_send(delivery_id=delivery.pk)

    class RefusingTwilio:
        def send(self, message):
            raise error_from_twilio(
                TwilioRestException(
                    400,
                    "/Messages.json",
                    msg=f"Invalid 'To' Phone Number: {message.to}",
                    code=21211,
                )
            )

    monkeypatch.setattr(sending, "get_sms_backend", RefusingTwilio)
    answers.alert_accept(alert_id=alert.pk, volunteer=volunteer, by_sms=True)
    details = AlertDelivery.objects.get(alert=alert, kind=AlertDelivery.Kind.DETAILS)
    delivery_send(delivery_id=details.pk)
    debrief_submit(
        volunteer=volunteer, alert_id=alert.pk, outcome="hard", comment=COMMENT, wants_call=True
    )
    # They text the alert number, naming themselves (the SMS and its answer are recorded).
    inbound.sms_inbound_handle(
        message_sid="SMprivacy", from_phone=PHONE, body=f"{FIRST} her, kommer jeg?"
    )
    needles = [PHONE[3:], FIRST, LAST, EMAIL, PUSH_TOKEN, COMMENT]
    before = {needle for _t, _c, needle in _where_found(needles)}
    assert before == set(needles)  # the search finds each of them while the account exists

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.delete("/api/v1/me/").status_code == 204

    left = _where_found(needles)
    assert left == [], left
    assert not Volunteer.objects.exists()
    assert not LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Volunteer), object_id=str(volunteer.pk)
    ).exists()
    # The alert stays for the statistics, without identity or position.
    assert _rows(
        "SELECT volunteer_id, volunteer_location, state FROM alerts_alert WHERE id = %s",
        [alert.pk],
    ) == [(None, None, Alert.State.ACCEPTED)]
    assert AlertDelivery.objects.filter(alert_id=alert.pk).count() == 2
    # The SMS they sent stays counted, without number, text or answer.
    assert _rows("SELECT from_phone, body, reply, volunteer_id FROM alerts_inboundmessage") == [
        ("", "", "", None)
    ]
