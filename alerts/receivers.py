"""What alerts does when the layers below it announce something (connected in apps.py)."""

import threading

from celery.signals import worker_process_init
from django.db import transaction
from django.dispatch import receiver

from alerts.channels import warm_up_backends
from alerts.enqueue import incident_dispatch_enqueue
from alerts.selectors.policy import dispatch_policy_snapshot
from alerts.services.answers import alerts_stand_down
from alerts.services.erasure import volunteer_alert_data_erase
from amk.models.incident import Incident
from amk.services.incidents import incident_policy_record
from amk.signals import incident_created, incident_ended
from volunteers.signals import volunteer_erasing


@receiver(incident_created, dispatch_uid="alerts.incident_created")
def incident_created_dispatch(sender, *, incident: Incident, **kwargs) -> None:
    """In the creating transaction: the policy in force goes with the incident; the dispatch is
    queued once it commits, robustly (with the broker down the incident is still saved and
    answered, and the sweep dispatches it)."""
    incident_policy_record(incident=incident, policy=dispatch_policy_snapshot())
    incident_id = incident.pk
    transaction.on_commit(lambda: incident_dispatch_enqueue(incident_id=incident_id), robust=True)


@receiver(incident_ended, dispatch_uid="alerts.incident_ended")
def incident_ended_stand_down(sender, *, incident: Incident, actor=None, **kwargs) -> None:
    """In the transaction that ended the incident: the stand-downs commit with it."""
    alerts_stand_down(incident=incident, actor=actor)


@receiver(volunteer_erasing, dispatch_uid="alerts.volunteer_erasing")
def volunteer_erasing_scrub(
    sender, *, volunteer, phone: str, push_tokens: list[str], **kwargs
) -> None:
    """In the erasure's transaction: the volunteer's traces in the alerts go with the account."""
    volunteer_alert_data_erase(volunteer=volunteer, phone=phone, push_tokens=push_tokens)


@worker_process_init.connect(dispatch_uid="alerts.warm_up_channels")
def worker_channels_warm_up(**kwargs) -> None:
    """Build the Twilio and FCM clients and fetch FCM's token as each worker process starts,
    so that no alert pays for it. In a thread: a provider that hangs must not hold the
    process past Celery's start-up timeout."""
    threading.Thread(target=warm_up_backends, name="warm-up-channels", daemon=True).start()
