"""The dispatcher stands one responder down: the alert is called off for that volunteer alone,
their AED claim is freed for another responder, and they get a stand-down message.

The incident goes on; the board's stand-down button calls this.
"""

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from alerts.enqueue import deliveries_send_on_commit
from alerts.models import Alert, AlertDelivery
from alerts.services.deliveries import channels_used, deliveries_create, sms_only
from alerts.services.roles import roles_assign
from alerts.services.timeline import alert_move
from alerts.services.waves import replacements_top_up
from amk.models.incident import Incident
from config.exceptions import ApplicationError


@transaction.atomic
def alert_stand_down(*, alert_id: int, actor: User) -> Alert:
    """Stand the responder of this alert down, on the dispatcher's (``actor``) decision.

    The alert moves to cancelled (the timeline's "stood down", with the dispatcher as actor),
    loses its role and AED (so another responder may fetch that AED), and a stand-down
    message goes to the volunteer on the channels the alert reached them on (by SMS if none
    is known). Only a responder of an open incident can be stood down; the incident is locked
    before the alert, as in every workflow.
    """
    incident_id = Alert.objects.filter(pk=alert_id).values_list("incident_id", flat=True).first()
    if incident_id is None:
        raise ApplicationError(_("No such alert."), code="not_found")
    incident = Incident.objects.select_for_update(no_key=True).get(pk=incident_id)
    alert = Alert.objects.select_for_update(of=("self",)).get(pk=alert_id)
    if not incident.is_open:
        raise ApplicationError(
            _("The incident has already ended (%(state)s).")
            % {"state": incident.get_state_display()},
            code="ended",
        )
    if not alert_move(
        alert,
        Alert.State.CANCELLED,
        from_states=Alert.RESPONDING_STATES,
        actor=actor,
        role=Alert.Role.NONE,
        aed=None,
    ):
        raise ApplicationError(
            _("Only a responder on the way can be stood down (this one: %(state)s).")
            % {"state": alert.get_state_display()},
            code="not_responding",
        )
    channels = channels_used([alert]) or sms_only([alert])
    deliveries_send_on_commit(
        delivery_ids=deliveries_create(channels, AlertDelivery.Kind.STAND_DOWN)
    )
    roles_assign(incident=incident, actor=actor)
    replacements_top_up(incident_id=alert.incident_id)
    return alert
