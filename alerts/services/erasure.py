"""Erasure of a volunteer's traces in the alerts, when their account is deleted
(volunteers.services.accounts.volunteer_delete, through alerts.receivers)."""

from collections.abc import Iterable

from django.db.models import Q

from alerts.models import Alert, AlertDelivery, AlertDeliveryAttempt, InboundMessage, OutboxMessage
from volunteers.models import Volunteer


def volunteer_alert_data_erase(
    *, volunteer: Volunteer, phone: str, push_tokens: Iterable[str]
) -> None:
    """The alerts stay for the statistics (Alert.volunteer is SET_NULL when the volunteer goes);
    the position snapshots, the provider errors on the deliveries and their attempts (Twilio's
    text names the number), the recorded outbox messages to the number or the push tokens
    (demo and tests) and the number, text and answer of the SMS they sent (their outcome stays,
    as the alerts do) go now, in the caller's transaction."""
    Alert.objects.filter(volunteer=volunteer).update(volunteer_location=None)
    AlertDelivery.objects.filter(alert__volunteer=volunteer).exclude(last_error="").update(
        last_error=""
    )
    AlertDeliveryAttempt.objects.filter(delivery__alert__volunteer=volunteer).exclude(
        error=""
    ).update(error="")
    OutboxMessage.objects.filter(recipient__in=[phone, *push_tokens]).delete()
    InboundMessage.objects.filter(Q(volunteer=volunteer) | Q(from_phone=phone)).update(
        from_phone="", body="", reply=""
    )
