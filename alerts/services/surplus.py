"""The release of the surplus: once enough responders are evidently coming, the volunteers
still alerted are thanked and released, and recruiting stops.

"Evidently coming" (``alerts.selectors.incident.confirmed_count``): a responder who reported
progress (on the way, AED collected, on scene), or whose acceptance is older than the policy's
``release_surplus_after_s``. A bare acceptance costs an attacker nothing, so acceptances alone
do not release anyone before that time: fake accounts that accept and never move cannot stand
the real volunteers down or stop the escalation. Checked after every acceptance and progress
report, and by every escalation check (the sweep's clock, for the time).
"""

import datetime as dt

from django.utils import timezone

from alerts.enqueue import deliveries_send_on_commit
from alerts.models import Alert, AlertDelivery, DispatchPolicy
from alerts.selectors.incident import confirmed_count
from alerts.services.deliveries import channels_used, deliveries_create
from alerts.services.timeline import alert_move
from amk.models.incident import Incident
from amk.services.incidents import incident_transition


def surplus_release_if_due(
    *, incident: Incident, policy: DispatchPolicy, now: dt.datetime | None = None
) -> bool:
    """Release the waiting volunteers if ``target_accepted`` responders are evidently coming.

    The caller holds the incident's lock. Returns whether the target is met (released now or
    before), so that an escalation check knows to stop.
    """
    confirmed = confirmed_count(
        incident_id=incident.pk,
        accepted_before=(now or timezone.now())
        - dt.timedelta(seconds=policy.release_surplus_after_s),
    )
    if confirmed < policy.target_accepted:
        return False
    waiting = list(Alert.objects.filter(incident=incident, state__in=Alert.WAITING_STATES))
    for alert in waiting:
        alert_move(alert, Alert.State.RELEASED, from_states=Alert.WAITING_STATES)
    incident_transition(
        incident_id=incident.pk,
        to_state=Incident.State.ACTIVE,
        from_states=[Incident.State.DISPATCHING],
    )
    deliveries_send_on_commit(
        delivery_ids=deliveries_create(channels_used(waiting), AlertDelivery.Kind.RELEASE)
    )
    return True
