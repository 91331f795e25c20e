"""The SMS to an AED's owner or contact (alerts.services.aed_notices), through the real Twilio
client to the fake Twilio: told when the AED is taken, reminded ahead of expiry; each sent once,
retried on a provider's error, looked up before a resend after a lost answer."""

import pytest
from django.utils import timezone

from alerts.models import AedNotice, AedUse
from alerts.services import aed_notices
from alerts.tasks import aed_notices_sweep_task
from tests.alerts.aeds import accept, days, incident, north, progress, responder
from tests.factories import DefibrillatorFactory

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")
__all__ = ["incident"]  # the fixture, used by name

CONTACT = "+4540112233"
State = AedNotice.State


def send(notice: AedNotice) -> int | None:
    """Send one notice as its task does: the seconds until its retry, or None when done."""
    return aed_notices.aed_notices_send(notice_ids=[notice.pk]).get(notice.pk)


def make_due(notice: AedNotice) -> None:
    AedNotice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())


def taken_notice(incident, **aed_kw) -> AedNotice:
    aed = DefibrillatorFactory(
        location=north(500), name="Hjertestarter Brugsen Ry", contact_phone=CONTACT, **aed_kw
    )
    alert = accept(responder(incident))
    assert alert.aed == aed
    return AedNotice.objects.get(use__alert=alert)


def test_the_contact_is_told_by_sms_when_their_aed_is_taken(
    incident, twilio_backend_settings, fake_twilio, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        notice = taken_notice(incident)
    assert callbacks  # queued for sending once the answer commits
    use = AedUse.objects.get()
    assert (notice.kind, notice.to, notice.state) == ("taken", CONTACT, State.PENDING)
    assert use.contact_phone == CONTACT

    assert send(notice) is None

    [sms] = fake_twilio.wait_for_messages(1)
    assert sms.to == CONTACT
    assert "Brugsen Ry" in sms.body
    assert "RETUR" in sms.body
    assert f"(ref. {use.pk})" in sms.body
    notice.refresh_from_db()
    assert (notice.state, notice.provider_message_id, notice.attempts) == (State.SENT, sms.sid, 1)
    # A task run twice, or the sweep after it, sends nothing more.
    assert send(notice) is None
    assert aed_notices_sweep_task() == 0
    assert len(fake_twilio.messages) == 1


def test_without_a_contact_the_owners_valid_number_is_told(incident):
    DefibrillatorFactory(location=north(500), owner_phone="86 20 54 00")
    use = AedUse.objects.get(alert=accept(responder(incident)))

    assert use.contact_phone == "+4586205400"
    assert AedNotice.objects.get(use=use).to == "+4586205400"


def test_an_aed_without_a_number_to_tell_has_no_notice(incident):
    DefibrillatorFactory(location=north(500), owner_phone="ring til pedellen")
    accept(responder(incident))

    assert AedUse.objects.count() == 1
    assert not AedNotice.objects.exists()


def test_a_provider_error_is_retried_then_sent_once(incident, twilio_backend_settings, fake_twilio):
    notice = taken_notice(incident)
    fake_twilio.faults.error_every = 1

    assert send(notice) == 2  # retry in 2 s
    notice.refresh_from_db()
    assert (notice.state, notice.attempts, notice.handed_over_at) == (State.PENDING, 1, None)
    assert "503" in notice.last_error

    fake_twilio.faults.error_every = 0
    assert send(notice) is None  # not due yet: untouched
    assert notice.attempts == AedNotice.objects.get(pk=notice.pk).attempts
    make_due(notice)
    assert send(notice) is None
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (State.SENT, 2)
    assert len(fake_twilio.messages) == 1


def test_it_gives_up_after_six_attempts(incident, twilio_backend_settings, fake_twilio):
    notice = taken_notice(incident)
    fake_twilio.faults.error_every = 1
    for _ in range(5):
        assert send(notice) is not None
        make_due(notice)
    assert send(notice) is None
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (State.FAILED, 6)
    assert notice.last_error.startswith("gave up")


def test_a_lost_answer_is_looked_up_before_a_resend(
    incident, settings, twilio_backend_settings, fake_twilio
):
    settings.TWILIO_TIMEOUT_S = 0.5
    fake_twilio.faults.delay_s = 1.5
    notice = taken_notice(incident)

    assert send(notice) is not None  # timed out: Twilio may have it
    [taken] = fake_twilio.wait_for_messages(1, timeout=5)
    notice.refresh_from_db()
    assert notice.outcome_unknown_since is not None
    fake_twilio.faults.delay_s = 0
    make_due(notice)

    assert send(notice) is None

    notice.refresh_from_db()
    assert (notice.state, notice.provider_message_id) == (State.SENT, taken.sid)
    assert len(fake_twilio.messages) == 1  # found in the log, not sent again


def test_an_aed_given_up_before_the_sms_left_is_not_announced(
    incident, twilio_backend_settings, fake_twilio
):
    notice = taken_notice(incident)
    progress(notice.use.alert, "released")  # withdrew before collecting it

    assert send(notice) is None

    notice.refresh_from_db()
    assert (notice.state, notice.last_error) == (State.FAILED, "no longer relevant")
    assert fake_twilio.request_count == 0


def test_expiry_reminders_once_per_date_within_30_days(twilio_backend_settings, fake_twilio, db):
    both = DefibrillatorFactory(
        name="Ry Hallerne",
        contact_phone=CONTACT,
        battery_expires_on=days(10),
        pads_expire_on=days(10),
    )
    two_dates = DefibrillatorFactory(
        contact_phone="+4540112234", battery_expires_on=days(5), pads_expire_on=days(20)
    )
    DefibrillatorFactory(contact_phone="+4540112235", battery_expires_on=days(31))  # not yet
    DefibrillatorFactory(contact_phone="+4540112236", pads_expire_on=days(-1))  # expired already
    DefibrillatorFactory(battery_expires_on=days(3), owner_phone="")  # nobody to tell
    DefibrillatorFactory(contact_phone="+4540112237", battery_expires_on=days(3), status="inactive")

    created = aed_notices.aed_expiry_notices_create()

    notices = AedNotice.objects.filter(pk__in=created)
    assert sorted(notices.values_list("aed_id", "expires_on")) == sorted(
        [(both.pk, days(10)), (two_dates.pk, days(5)), (two_dates.pk, days(20))]
    )
    assert aed_notices.aed_expiry_notices_create() == []  # once per date, however often it runs
    for notice in notices:
        assert send(notice) is None
    texts = {sms.to: sms.body for sms in fake_twilio.wait_for_messages(3)}
    assert len(fake_twilio.messages) == 3
    assert "Ry Hallerne" in texts[CONTACT]
    assert days(10).strftime("%d.%m.%Y") in texts[CONTACT]
    assert texts[CONTACT].startswith("Hjertealarm: Batteriet og elektroderne i hjertestarteren")
    assert texts[CONTACT].endswith(f"(nr. {both.pk})")

    # A new battery (a later date) gets its own reminder when that date comes near.
    both.battery_expires_on = days(25)
    both.save()
    [again] = aed_notices.aed_expiry_notices_create()
    assert AedNotice.objects.get(pk=again).expires_on == days(25)


def test_a_reminder_whose_date_changed_before_it_left_is_not_sent(
    twilio_backend_settings, fake_twilio, db
):
    aed = DefibrillatorFactory(contact_phone=CONTACT, battery_expires_on=days(10))
    [notice_id] = aed_notices.aed_expiry_notices_create()
    aed.battery_expires_on = days(900)  # replaced meanwhile
    aed.save()

    assert send(AedNotice.objects.get(pk=notice_id)) is None

    assert AedNotice.objects.get(pk=notice_id).state == State.FAILED
    assert fake_twilio.request_count == 0


# GSM 03.38's basic alphabet: a text only of these is 160 characters to a segment.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def test_every_text_to_a_contact_is_danish_and_fits_one_gsm7_segment(db):
    from alerts import aed_messages

    aed = DefibrillatorFactory.build(
        pk=123456,
        name="Hjertestarter ved Sønderbrogade Idrætscenters hovedindgang mod øst",
        battery_expires_on=days(20),
        pads_expire_on=days(20),
    )
    texts = [
        aed_messages.aed_taken_text(aed=aed, ref=99999),
        aed_messages.aed_expiry_text(aed=aed, expires_on=days(20)),
        aed_messages.aed_returned_text(aed_name=aed.name),
        aed_messages.aed_return_unknown_text(),
    ]
    assert "Hjertestarteren Hjertestarter ved Sønderbrogade Idræt... er hentet" in texts[0]
    assert "Batteriet og elektroderne" in texts[1]
    for text in texts:
        assert len(text) <= 160, text
        assert set(text) <= GSM7, set(text) - GSM7


def test_a_sender_lost_after_the_hand_over_is_taken_over_and_not_sent_twice(
    incident, monkeypatch, twilio_backend_settings, fake_twilio
):
    """Twilio took the message; the sender lost its database before recording it."""
    import datetime as dt

    from django.db import OperationalError

    from alerts.services.sending import sending_lease

    notice = taken_notice(incident)
    recorded = aed_notices._finish

    def lost(notice, state, **fields):
        if state == State.SENT:
            raise OperationalError("server closed the connection unexpectedly")
        recorded(notice, state, **fields)

    monkeypatch.setattr(aed_notices, "_finish", lost)
    with pytest.raises(OperationalError):
        send(notice)
    [taken] = fake_twilio.wait_for_messages(1)
    monkeypatch.setattr(aed_notices, "_finish", recorded)
    notice.refresh_from_db()
    assert (notice.state, notice.handed_over_at is not None) == (State.SENDING, True)
    assert aed_notices.aed_notices_due() == []  # its sender may still be at it

    expired = timezone.now() - sending_lease() - dt.timedelta(seconds=1)
    AedNotice.objects.filter(pk=notice.pk).update(updated_at=expired)
    assert aed_notices.aed_notices_due() == [notice.pk]
    assert send(notice) is None

    notice.refresh_from_db()
    assert (notice.state, notice.provider_message_id, notice.attempts) == (State.SENT, taken.sid, 2)
    assert notice.outcome_unknown_since is not None
    assert len(fake_twilio.messages) == 1
