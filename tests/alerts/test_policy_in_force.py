"""The policy in force is part of the incident (issue 12, point 5): copied onto it in the creating
transaction, followed by every path of a running incident, shown in the admin; edits apply to
new incidents only; a policy row exists from the start."""

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertDelivery, DispatchPolicy
from alerts.selectors.policy import dispatch_policy_current, incident_policy
from alerts.services import answers, sending, sweep, waves
from amk.models import Incident
from amk.services.incidents import incident_create
from tests.factories import (
    AARHUS_C,
    AlertDeliveryFactory,
    AlertFactory,
    DispatcherFactory,
    DispatchPolicyFactory,
    IncidentFactory,
    UserFactory,
    VolunteerFactory,
    point,
)

pytestmark = pytest.mark.usefixtures("reference_geography", "fresh_backends")

METRES_PER_DEGREE_LAT = 111_320


def north(metres: float):
    return point(AARHUS_C[0], AARHUS_C[1] + metres / METRES_PER_DEGREE_LAT)


def create_incident(**kwargs) -> Incident:
    return incident_create(
        created_by=DispatcherFactory(), location=point(*AARHUS_C), address="Store Torv 1", **kwargs
    )


def edit_in_admin(client, policy: DispatchPolicy, **changes) -> None:
    """Change the active policy as an administrator does: through the admin's form."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    data = {k: v for k, v in model_to_dict(policy).items() if v is not None and k != "id"}
    data.update(changes)
    url = reverse("admin:alerts_dispatchpolicy_change", args=[policy.pk])
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_a_new_incident_carries_every_value_of_the_policy_in_force(
    django_capture_on_commit_callbacks,
):
    policy = DispatchPolicyFactory(name="Sommer", radius_m=4000, alert_valid_s=420, mode="replace")

    with django_capture_on_commit_callbacks(execute=False):
        incident = create_incident()

    stored = Incident.objects.get(pk=incident.pk).dispatch_policy
    assert stored["policy_id"] == policy.pk
    assert stored["name"] == "Sommer"
    assert (stored["radius_m"], stored["alert_valid_s"], stored["mode"]) == (4000, 420, "replace")
    for field in DispatchPolicy._meta.concrete_fields:
        if field.attname not in {"id", "is_active", "updated_at"}:
            assert field.attname in stored, field.attname
    kept = incident_policy(incident)
    assert kept.pk is None  # an unsaved copy: nothing can save it over the row
    assert (kept.radius_m, kept.mode, kept.outstanding_target) == (4000, "replace", 7)


def test_the_copy_is_written_inside_the_creating_transaction(django_capture_on_commit_callbacks):
    DispatchPolicyFactory(radius_m=3000)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        incident = create_incident()
        # Before the commit: the row already has its copy, the dispatch is still to be queued.
        assert Incident.objects.get(pk=incident.pk).dispatch_policy["radius_m"] == 3000
    assert len(callbacks) == 1


def test_admin_edits_apply_to_new_incidents_only(client, django_capture_on_commit_callbacks):
    policy = DispatchPolicyFactory(
        radius_m=5000, radius_step_m=2500, max_radius_m=10000, max_waves=3, target_accepted=5
    )
    with django_capture_on_commit_callbacks(execute=False):
        running = create_incident()
    VolunteerFactory(location=north(1000))
    at_6km = VolunteerFactory(location=north(6000))
    with django_capture_on_commit_callbacks(execute=False):
        waves.incident_dispatch(incident_id=running.pk)

    edit_in_admin(client, policy, radius_m=2000, radius_step_m=500, max_waves=1)

    assert DispatchPolicy.objects.get(pk=policy.pk).max_waves == 1
    # The running incident's waves keep the old values: a second wave, 2.5 km wider.
    with django_capture_on_commit_callbacks(execute=False):
        assert waves.incident_escalate(incident_id=running.pk, after_wave=1) is True
    running.refresh_from_db()
    assert (running.dispatch_wave, running.dispatch_radius_m) == (2, 7500)
    assert Alert.objects.filter(incident=running, volunteer=at_6km, wave=2).exists()
    # A new incident follows the edit.
    with django_capture_on_commit_callbacks(execute=False):
        new = create_incident()
    assert (new.dispatch_policy["max_waves"], new.dispatch_policy["radius_m"]) == (1, 2000)


def test_acceptance_follows_the_incidents_own_target_and_distance(
    django_capture_on_commit_callbacks,
):
    DispatchPolicyFactory(target_accepted=1, acceptance_max_distance_m=12000)
    with django_capture_on_commit_callbacks(execute=False):
        incident = create_incident()
    Incident.objects.filter(pk=incident.pk).update(state=Incident.State.DISPATCHING)
    DispatchPolicyFactory(target_accepted=5, acceptance_max_distance_m=100)
    first = AlertFactory(incident=incident, volunteer=VolunteerFactory(location=north(900)))
    other = AlertFactory(incident=incident, state=Alert.State.SENT)

    with django_capture_on_commit_callbacks(execute=False):
        answers.alert_accept(alert_id=first.pk, volunteer=first.volunteer)

    # 900 m is within the incident's 12 km; its target of one releases the others.
    assert Alert.objects.get(pk=first.pk).state == Alert.State.ACCEPTED
    assert Alert.objects.get(pk=other.pk).state == Alert.State.RELEASED


def test_the_sms_validity_is_the_incidents_own(django_capture_on_commit_callbacks):
    DispatchPolicyFactory(sms_validity_s=300)
    with django_capture_on_commit_callbacks(execute=False):
        incident = create_incident()
    DispatchPolicyFactory(sms_validity_s=900, alert_valid_s=1200)
    old = AlertDeliveryFactory(alert__incident=incident)
    new = AlertDeliveryFactory(alert__incident=IncidentFactory())  # no copy: the policy in force

    validity = built_validity()

    assert validity == {old.pk: 300, new.pk: 900}


def test_an_alert_sms_is_never_valid_past_its_alerts_expiry():
    DispatchPolicyFactory(sms_validity_s=600, alert_valid_s=600)
    delivery = AlertDeliveryFactory(alert__incident=IncidentFactory())
    Alert.objects.filter(pk=delivery.alert_id).update(
        created_at=timezone.now() - dt.timedelta(seconds=420)
    )

    assert 175 <= built_validity()[delivery.pk] <= 180


def built_validity() -> dict[int, int]:
    built = sending.messages_build(
        list(
            AlertDelivery.objects.select_related(
                "alert__incident__municipality", "alert__volunteer"
            )
        )
    )
    return {item.delivery.pk: item.message.validity_s for item in built}


def test_the_sweep_escalates_by_the_incidents_own_period(
    django_capture_on_commit_callbacks, monkeypatch
):
    DispatchPolicyFactory(escalate_after_s=600)
    with django_capture_on_commit_callbacks(execute=False):
        patient = create_incident()
    DispatchPolicyFactory(escalate_after_s=30)
    with django_capture_on_commit_callbacks(execute=False):
        hasty = create_incident()
    two_minutes_ago = timezone.now() - dt.timedelta(minutes=2)
    Incident.objects.update(
        state=Incident.State.DISPATCHING, dispatch_wave=1, last_wave_at=two_minutes_ago
    )
    queued = []
    monkeypatch.setattr(
        sweep, "incident_escalate_enqueue", lambda **kw: queued.append(kw["incident_id"])
    )
    monkeypatch.setattr(sweep, "alerts_sms_fallback_enqueue", lambda **kw: None)

    sweep.sweep()

    assert queued == [hasty.pk]
    assert patient.pk not in queued


def test_an_incident_without_a_copy_follows_the_policy_in_force():
    DispatchPolicyFactory(max_waves=2)
    incident = IncidentFactory()
    assert incident.dispatch_policy == {}
    assert incident_policy(incident).max_waves == 2


def test_the_first_wave_reads_no_policy_row_and_its_queries_do_not_grow_with_its_size(
    django_capture_on_commit_callbacks,
):
    DispatchPolicyFactory(app_volunteers_per_wave=20)

    def dispatch_queries(volunteers: int) -> list[str]:
        with django_capture_on_commit_callbacks(execute=False):
            incident = create_incident()
        while VolunteerFactory._meta.model.objects.count() < volunteers:
            VolunteerFactory(location=north(300 + 10 * volunteers))
        with (
            CaptureQueriesContext(connection) as captured,
            django_capture_on_commit_callbacks(execute=False),
        ):
            waves.incident_dispatch(incident_id=incident.pk)
        assert Alert.objects.filter(incident=incident).count() == volunteers
        return [q["sql"] for q in captured]

    small, large = dispatch_queries(2), dispatch_queries(12)
    assert len(small) == len(large)
    assert not any("alerts_dispatchpolicy" in sql for sql in large)


def test_the_migration_creates_the_default_policy_when_none_is_active():
    migration = importlib.import_module("alerts.migrations.0008_lifecycle_policy")
    DispatchPolicy.objects.all().delete()

    migration.default_policy_create(apps, None)
    migration.default_policy_create(apps, None)  # again: still one

    [policy] = DispatchPolicy.objects.all()
    assert (policy.name, policy.is_active) == ("Standard", True)
    assert model_to_dict(policy, exclude=["id", "name"]) == model_to_dict(
        DispatchPolicy(), exclude=["id", "name"]
    )
    assert dispatch_policy_current().pk == policy.pk


def test_the_migration_leaves_an_active_policy_alone():
    migration = importlib.import_module("alerts.migrations.0008_lifecycle_policy")
    mine = DispatchPolicyFactory(name="AMK")
    migration.default_policy_create(apps, None)
    assert list(DispatchPolicy.objects.filter(is_active=True)) == [mine]


def test_the_incidents_admin_page_shows_the_policy_it_keeps(
    client, django_capture_on_commit_callbacks
):
    DispatchPolicyFactory(name="Vinter", alert_valid_s=480, mode="replace")
    with django_capture_on_commit_callbacks(execute=False):
        incident = create_incident()
    DispatchPolicyFactory(name="Forår", alert_valid_s=900)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(reverse("admin:amk_incident_change", args=[incident.pk])).content.decode()

    assert "Vinter" in page
    assert "Forår" not in page
    assert "480" in page
    # Labels and choices in the admin's language (Danish).
    assert str(DispatchPolicy._meta.get_field("alert_valid_s").verbose_name).capitalize() in page
    assert str(DispatchPolicy.Mode.REPLACE.label) in page


def test_the_policy_admin_shows_the_lifecycle_fields(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    policy = DispatchPolicyFactory()
    page = client.get(reverse("admin:alerts_dispatchpolicy_change", args=[policy.pk]))
    for name in ("alert_valid_s", "auto_close_after_s", "mode", "outstanding_target"):
        assert f'name="{name}"' in page.content.decode()


def test_the_board_shows_the_policy_the_incident_keeps(client, django_capture_on_commit_callbacks):
    DispatchPolicyFactory(mode="replace", outstanding_target=9, alert_valid_s=480)
    with django_capture_on_commit_callbacks(execute=False):
        incident = create_incident()
    DispatchPolicyFactory(mode="waves", max_waves=4, alert_valid_s=900)
    client.force_login(DispatcherFactory())

    page = client.get(reverse("amk:incident_detail", args=[incident.pk])).content.decode()

    policy_card = page[page.index('id="policy"') :]
    assert "hold 9 ubesvarede ude" in policy_card
    assert "480 s" in policy_card
    assert "900 s" not in policy_card
