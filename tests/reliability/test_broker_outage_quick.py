"""Quick (not slow): a broker outage at enqueue time never fails the dispatcher's request."""

import pytest
from django.urls import reverse
from kombu.exceptions import OperationalError

from alerts.models import Alert, AlertDelivery
from alerts.services import waves
from amk.models import Incident
from config.celery import app
from tests.factories import AARHUS_C, DispatcherFactory, VolunteerFactory, point

pytestmark = pytest.mark.django_db(transaction=True)


def _broker_down(monkeypatch, *task_names: str) -> None:
    """Queuing these tasks (alerts.enqueue queues every task by name) fails as with Redis down."""
    send_task = app.send_task

    def refused(name, *args, **kwargs):
        if name in task_names:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return send_task(name, *args, **kwargs)

    monkeypatch.setattr(app, "send_task", refused)


def test_incident_is_saved_and_answered_when_the_broker_is_down(
    client, reference_geography, monkeypatch
):
    _broker_down(monkeypatch, "alerts.tasks.incident_dispatch_task")
    client.force_login(DispatcherFactory())
    response = client.post(
        reverse("amk:incident_create"),
        {"location": f"{AARHUS_C[1]}, {AARHUS_C[0]}", "address": "Store Torv 1"},
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.state == Incident.State.PENDING_DISPATCH  # for the sweep
    # The policy in force was copied in the creating transaction, whatever the broker does.
    assert incident.dispatch_policy["radius_m"] == 5000


def test_dispatch_commits_its_alerts_when_the_broker_is_down(reference_geography, monkeypatch):
    from amk.services import incidents as amk_services

    VolunteerFactory(location=point(AARHUS_C[0], AARHUS_C[1] + 0.001))
    _broker_down(
        monkeypatch, "alerts.tasks.incident_dispatch_task", "alerts.tasks.deliveries_send_task"
    )
    incident = amk_services.incident_create(
        created_by=DispatcherFactory(),
        location=point(*AARHUS_C),
        address="Store Torv 1",
        note="",
        exclusion_reasons=[],
    )
    waves.incident_dispatch(incident_id=incident.pk)
    assert Alert.objects.filter(incident=incident).count() == 1
    assert AlertDelivery.objects.filter(state=AlertDelivery.State.PENDING).count() == 1
