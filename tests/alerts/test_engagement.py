"""One responder, one incident: who selection leaves out (engaged elsewhere, resting after an
incident), acceptance refused while engaged (also when two race), withdrawal, and the texts
an incident's end sends, against real PostGIS."""

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from alerts.models import Alert, AlertDelivery, DispatchPolicy, OutboxMessage
from alerts.selectors.selection import (
    _GENERIC_PLAN,
    _candidates_params,
    _candidates_statement,
    dispatch_candidates,
)
from alerts.services import answers, waves
from amk.models import Incident, IncidentEvent
from amk.services.incidents import incident_cancel, incident_close
from config.exceptions import ApplicationError
from tests.delivery import delivery_send
from tests.factories import (
    AARHUS_C,
    AlertDeliveryFactory,
    AlertFactory,
    DefibrillatorFactory,
    DispatchPolicyFactory,
    IncidentFactory,
    LocalAreaFactory,
    UserFactory,
    VolunteerFactory,
    point,
    responder_on_scene,
    square_around,
)

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")

METRES_PER_DEGREE_LAT = 111_320
NOW = timezone.now


def north(metres: float):
    return point(AARHUS_C[0], AARHUS_C[1] + metres / METRES_PER_DEGREE_LAT)


def chosen(incident, *, rest_s: int = 0, include_corps: bool = True) -> dict[int, int | None]:
    """volunteer id → distance (m) of those selection would alert now."""
    candidates = dispatch_candidates(
        incident_id=incident.pk,
        point=incident.location,
        policy=DispatchPolicy(cooldown_after_incident_s=rest_s),
        radius_m=5000,
        include_corps=include_corps,
    )
    return {c.volunteer_id: c.distance_m for c in candidates}


def engagement(volunteer, *, state, open_incident=True, ended_ago_s=None, answered=True):
    incident = (
        IncidentFactory(state=Incident.State.ACTIVE)
        if open_incident
        else IncidentFactory(state=Incident.State.CLOSED, closed_at=NOW())
    )
    return AlertFactory(
        incident=incident,
        volunteer=volunteer,
        state=state,
        answered_at=NOW() - dt.timedelta(minutes=30) if answered else None,
        ended_at=None if ended_ago_s is None else NOW() - dt.timedelta(seconds=ended_ago_s),
    )


# --- Selection --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", Alert.ENGAGED_STATES)
def test_someone_engaged_on_another_open_incident_is_not_alerted_in_either_pool(state):
    area = LocalAreaFactory(area=square_around(*AARHUS_C))
    app = VolunteerFactory(location=north(500))
    corps = VolunteerFactory(local_area=area, is_heart_runner=False, location=north(600))
    free = VolunteerFactory(location=north(700))
    for busy in (app, corps):
        engagement(busy, state=state)

    assert set(chosen(IncidentFactory())) == {free.pk}


def test_being_at_work_on_an_ended_incident_does_not_count():
    volunteer = VolunteerFactory(location=north(500))
    engagement(volunteer, state=Alert.State.ON_SCENE, open_incident=False)

    assert set(chosen(IncidentFactory())) == {volunteer.pk}


def test_the_rest_period_counts_from_the_end_of_an_engagement():
    finished = VolunteerFactory(location=north(500))
    engagement(finished, state=Alert.State.RELEASED, open_incident=False, ended_ago_s=600)
    stood_down = VolunteerFactory(location=north(600))
    engagement(stood_down, state=Alert.State.CANCELLED, open_incident=False, ended_ago_s=3000)
    long_ago = VolunteerFactory(location=north(700))
    engagement(long_ago, state=Alert.State.RELEASED, open_incident=False, ended_ago_s=4000)
    incident = IncidentFactory()

    assert set(chosen(incident, rest_s=3600)) == {long_ago.pk}
    assert set(chosen(incident, rest_s=0)) == {finished.pk, stood_down.pk, long_ago.pk}


def test_a_decline_or_an_unanswered_release_is_no_engagement_to_rest_from():
    declined = VolunteerFactory(location=north(500))
    engagement(declined, state=Alert.State.DECLINED, open_incident=False, ended_ago_s=60)
    released = VolunteerFactory(location=north(600))
    engagement(
        released, state=Alert.State.RELEASED, open_incident=False, ended_ago_s=60, answered=False
    )

    assert set(chosen(IncidentFactory(), rest_s=3600)) == {declined.pk, released.pk}


def test_a_corps_member_without_a_position_has_no_distance_not_0_m():
    area = LocalAreaFactory(area=square_around(*AARHUS_C))
    member = VolunteerFactory(
        local_area=area, is_heart_runner=False, location=None, location_updated_at=None
    )

    assert chosen(IncidentFactory()) == {member.pk: None}


def test_the_engagement_rule_walks_its_partial_index():
    incident = IncidentFactory()
    policy = DispatchPolicy(cooldown_after_incident_s=600)
    statement = _candidates_statement(policy.app_volunteers_per_wave)
    params = _candidates_params(
        incident_id=incident.pk,
        point=incident.location,
        policy=policy,
        radius_m=5000,
        include_corps=True,
        now=NOW(),
    )
    with connection.cursor() as cursor:
        statement.execute(cursor, params, prefix=_GENERIC_PLAN)  # prepared on this connection
        cursor.execute(_GENERIC_PLAN + "SET LOCAL enable_seqscan = off")  # empty: make it choose
        args = [params[name] for name in statement.arg_names]
        placeholders = ", ".join(["%s"] * len(args))
        cursor.execute(f"EXPLAIN EXECUTE {statement.name}({placeholders})", args)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert plan.count("alert_engagement_idx") == 2  # both pools


def test_a_responder_is_not_alerted_for_a_second_incident_nearby():
    responder = VolunteerFactory(location=north(300))
    other = VolunteerFactory(location=north(400))
    first = IncidentFactory()
    waves.incident_dispatch(incident_id=first.pk)
    answers.alert_accept(alert_id=Alert.objects.get(volunteer=responder).pk, volunteer=responder)

    second = IncidentFactory(location=north(200))
    waves.incident_dispatch(incident_id=second.pk)

    assert set(Alert.objects.filter(incident=second).values_list("volunteer", flat=True)) == {
        other.pk
    }


# --- Acceptance -------------------------------------------------------------------------------


def test_accepting_while_engaged_elsewhere_is_refused_until_that_one_ends():
    volunteer = VolunteerFactory(location=north(300))
    busy = engagement(volunteer, state=Alert.State.EN_ROUTE)
    alert = AlertFactory(
        incident=IncidentFactory(state=Incident.State.DISPATCHING),
        volunteer=volunteer,
        state=Alert.State.SENT,
    )

    with pytest.raises(ApplicationError) as refused:
        answers.alert_accept(alert_id=alert.pk, volunteer=volunteer)

    assert refused.value.code == "engaged_elsewhere"
    assert Alert.objects.get(pk=alert.pk).state == Alert.State.SENT
    answers.alert_progress(alert_id=busy.pk, volunteer=volunteer, state=Alert.State.RELEASED)
    assert answers.alert_accept(alert_id=alert.pk, volunteer=volunteer).state == "accepted"


def _waiting_on_locks(pids) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid = ANY(%s)",
            [list(pids)],
        )
        return cursor.fetchone()[0]


def _wait_until(predicate, timeout_s=10.0):
    import time

    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the lock queue")
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_two_acceptances_of_one_volunteer_at_the_same_moment_accept_one():
    volunteer = VolunteerFactory(location=north(300))
    alerts = [
        AlertFactory(
            incident=IncidentFactory(state=Incident.State.DISPATCHING),
            volunteer=volunteer,
            state=Alert.State.SENT,
        )
        for _ in range(2)
    ]
    release, locked, errors, pids = threading.Event(), threading.Event(), {}, {}

    def run(name, work):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids[name] = cursor.fetchone()[0]
            work()
        except Exception as error:  # recorded for the assertion below
            errors[name] = error
        finally:
            connection.close()

    def hold_the_volunteer():  # the acceptances' own lock, held until both queue for it
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"alerts.accept:{volunteer.pk}"],
            )
            locked.set()
            release.wait(10)

    work = {
        "holder": hold_the_volunteer,
        **{
            f"accept {i}": (lambda a=a: answers.alert_accept(alert_id=a.pk, volunteer=volunteer))
            for i, a in enumerate(alerts)
        },
    }
    threads = {name: threading.Thread(target=run, args=(name, w)) for name, w in work.items()}
    try:
        threads["holder"].start()
        assert locked.wait(10)
        threads["accept 0"].start()
        threads["accept 1"].start()
        _wait_until(lambda: len(pids) == 3 and _waiting_on_locks(pids.values()) == 2)
    finally:
        release.set()
        for thread in threads.values():
            if thread.ident:
                thread.join(30)

    states = sorted(Alert.objects.filter(volunteer=volunteer).values_list("state", flat=True))
    assert states == [Alert.State.ACCEPTED, Alert.State.SENT]
    assert list(errors) in (["accept 0"], ["accept 1"])
    assert next(iter(errors.values())).code == "engaged_elsewhere"


# --- Withdrawal -------------------------------------------------------------------------------


def accepted(volunteer=None, *, someone_on_scene=False):
    alert = AlertFactory(
        incident=IncidentFactory(state=Incident.State.DISPATCHING),
        volunteer=volunteer or VolunteerFactory(location=north(800)),
        state=Alert.State.SENT,
    )
    if someone_on_scene:
        responder_on_scene(alert.incident)
    return answers.alert_accept(alert_id=alert.pk, volunteer=alert.volunteer)


def test_finishing_before_arriving_is_a_withdrawal_that_frees_the_aed():
    DefibrillatorFactory(location=north(400))
    alert = accepted(someone_on_scene=True)
    assert alert.role == Alert.Role.AED

    answers.alert_progress(alert_id=alert.pk, volunteer=alert.volunteer, state="released")

    alert.refresh_from_db()
    assert (alert.state, alert.role, alert.aed_id) == (Alert.State.RELEASED, "", None)
    assert alert.ended_at is not None
    event = IncidentEvent.objects.filter(alert=alert).latest("pk")
    assert event.message.endswith("(meldte fra)")


def test_finishing_on_scene_is_no_withdrawal():
    alert = accepted()
    answers.alert_progress(alert_id=alert.pk, volunteer=alert.volunteer, state="on_scene")

    answers.alert_progress(alert_id=alert.pk, volunteer=alert.volunteer, state="released")

    event = IncidentEvent.objects.filter(alert=alert).latest("pk")
    assert event.kind == IncidentEvent.Kind.ALERT_RELEASED
    assert "meldte fra" not in event.message
    assert Alert.objects.get(pk=alert.pk).role == Alert.Role.CPR


def test_withdrawing_is_idempotent_and_only_after_accepting():
    alert = accepted()
    answers.alert_withdraw(alert_id=alert.pk, volunteer=alert.volunteer)
    events = IncidentEvent.objects.count()

    answers.alert_withdraw(alert_id=alert.pk, volunteer=alert.volunteer)

    assert IncidentEvent.objects.count() == events
    waiting = AlertFactory(state=Alert.State.SENT)
    with pytest.raises(ApplicationError) as refused:
        answers.alert_withdraw(alert_id=waiting.pk, volunteer=waiting.volunteer)
    assert refused.value.code == "not_open"


# --- The end of an incident -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "responder_text", "waiting_text"),
    [
        (
            incident_close,
            "Ambulancen er fremme, tak for hjælpen.",
            "Ambulancen er fremme, du skal ikke afsted.",
        ),
        (
            incident_cancel,
            "Alarmen er afblæst, tag ikke afsted",
            "Alarmen er afblæst, tag ikke afsted",
        ),
    ],
)
def test_close_thanks_the_responders_and_cancel_calls_everyone_off(
    end, responder_text, waiting_text, django_capture_on_commit_callbacks
):
    DispatchPolicyFactory(target_accepted=5)
    incident = IncidentFactory(state=Incident.State.DISPATCHING)
    responder = AlertFactory(incident=incident, volunteer=VolunteerFactory(location=north(500)))
    waiting = AlertFactory(incident=incident, state=Alert.State.SENT)
    for alert in (responder, waiting):
        AlertDeliveryFactory(alert=alert, channel="sms", state=AlertDelivery.State.SENT)
    answers.alert_accept(alert_id=responder.pk, volunteer=responder.volunteer)
    answers.alert_progress(alert_id=responder.pk, volunteer=responder.volunteer, state="on_scene")

    with django_capture_on_commit_callbacks(execute=False):
        end(incident_id=incident.pk, actor=UserFactory())
    for stand_down in AlertDelivery.objects.filter(kind=AlertDelivery.Kind.STAND_DOWN):
        delivery_send(delivery_id=stand_down.pk)

    texts = dict(OutboxMessage.objects.values_list("recipient", "body"))
    assert texts[str(responder.volunteer.phone)].startswith(responder_text)
    assert texts[str(waiting.volunteer.phone)].startswith(waiting_text)
