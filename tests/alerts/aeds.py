"""Helpers for the AED tests: an open incident in Aarhus C, responders and AEDs north of it."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import AedUse, Alert
from alerts.services import answers
from amk.models import Incident
from tests.factories import AARHUS_C, AlertFactory, IncidentFactory, VolunteerFactory, point

METRES_PER_DEGREE_LAT = 111_320


def north(metres: float):
    return point(AARHUS_C[0], AARHUS_C[1] + metres / METRES_PER_DEGREE_LAT)


@pytest.fixture
def incident(db):
    """An incident where someone is already doing CPR, so the next acceptor may fetch an AED
    (alerts.services.roles: the first to reach the patient never fetches)."""
    return new_incident()


def new_incident(**kwargs) -> Incident:
    incident = IncidentFactory(
        state=Incident.State.DISPATCHING, dispatch_wave=1, dispatch_radius_m=5000, **kwargs
    )
    AlertFactory(
        incident=incident,
        volunteer=VolunteerFactory(location=north(10)),
        state=Alert.State.ON_SCENE,
        role=Alert.Role.CPR,
        answered_at=timezone.now(),
    )
    return incident


def responder(incident, metres_north=1000, volunteer=None, **kw) -> Alert:
    """An alerted volunteer 1 km north of the patient (AEDs on the way lie between)."""
    volunteer = volunteer or VolunteerFactory(location=north(metres_north))
    return AlertFactory(incident=incident, volunteer=volunteer, state=Alert.State.SENT, **kw)


def accept(alert: Alert) -> Alert:
    return answers.alert_accept(alert_id=alert.pk, volunteer=alert.volunteer)


def progress(alert: Alert, state: str) -> Alert:
    return answers.alert_progress(alert_id=alert.pk, volunteer=alert.volunteer, state=state)


def open_use(aed) -> AedUse | None:
    return AedUse.objects.filter(aed=aed, ended_at__isnull=True).first()


def days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)
