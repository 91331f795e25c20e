"""Debriefs: how it went for a volunteer after an alert they answered, and the follow-up calls
the staff mark as handled."""

from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.models import Alert
from config.exceptions import ApplicationError
from volunteers.models import Debrief, Volunteer


def debrief_submit(
    *, volunteer: Volunteer, alert_id: int, outcome: str, comment: str = "", wants_call: bool
) -> Debrief:
    """How it went, after an alert the volunteer answered; one per alert, the latest wins."""
    alert = Alert.objects.filter(pk=alert_id, volunteer=volunteer).first()
    if alert is None:
        raise ApplicationError(_("No such alert."), code="not_found")
    if not alert.role and alert.state != Alert.State.DECLINED:
        raise ApplicationError(
            _("A debrief can be given for an alert you answered."), code="conflict"
        )
    debrief, _created = Debrief.objects.update_or_create(
        volunteer=volunteer,
        alert=alert,
        defaults={"outcome": outcome, "comment": comment.strip(), "wants_call": wants_call},
    )
    return debrief


def debriefs_mark_handled(*, debrief_ids: Iterable[int], user) -> int:
    return Debrief.objects.filter(pk__in=list(debrief_ids), handled=False).update(
        handled=True, handled_at=timezone.now(), handled_by=user
    )
