"""What alerts does when the layers below it announce something (connected in apps.py)."""

from django.dispatch import receiver

from alerts.enqueue import incident_dispatch_enqueue
from alerts.services import alerts_stand_down
from amk.models import Incident
from amk.signals import incident_created, incident_ended


@receiver(incident_created, dispatch_uid="alerts.incident_created")
def incident_created_dispatch(sender, *, incident_id: int, **kwargs) -> None:
    incident_dispatch_enqueue(incident_id=incident_id)


@receiver(incident_ended, dispatch_uid="alerts.incident_ended")
def incident_ended_stand_down(sender, *, incident: Incident, actor=None, **kwargs) -> None:
    """In the transaction that ended the incident: the stand-downs commit with it."""
    alerts_stand_down(incident=incident, actor=actor)
