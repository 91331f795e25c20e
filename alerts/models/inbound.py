"""The SMS sent to the alert number (Twilio's inbound webhook), each with the answer it got."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class InboundMessage(models.Model):
    """One SMS received, recorded once by Twilio's MessageSid, and what came of it.

    A replayed webhook (the same MessageSid) finds this row and answers the same again,
    changing nothing (alerts.services.inbound). The sender's number, the text and the answer
    are personal: an erased account takes them along (alerts.services.erasure).
    """

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        ALREADY_ANSWERED = "already_answered", _("Already answered")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn after accepting")
        AMBIGUOUS = "ambiguous", _("Several open alerts: asked which")
        UNKNOWN_REFERENCE = "unknown_reference", _("Not one of the sender's alerts")
        NOT_UNDERSTOOD = "not_understood", _("Not understood")
        TOO_LATE = "too_late", _("Too late: ended or expired")
        ENGAGED_ELSEWHERE = "engaged_elsewhere", _("Already on another incident")
        REFUSED = "refused", _("Refused")
        UNKNOWN_SENDER = "unknown_sender", _("Unknown sender")
        AED_RETURN = "aed_return", _("AED return (RETUR from its contact)")

    message_sid = models.CharField(_("message id"), max_length=64, unique=True)
    from_phone = models.CharField(_("from"), max_length=32, db_index=True)
    volunteer = models.ForeignKey(
        "volunteers.Volunteer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("volunteer"),
    )
    body = models.TextField(_("text"), blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    alert = models.ForeignKey(
        "alerts.Alert",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_messages",
        verbose_name=_("alert answered"),
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    reply = models.TextField(
        _("answer sent"),
        blank=True,
        help_text=_("Empty when the answer is the SMS with the address and role."),
    )

    class Meta:
        verbose_name = _("inbound SMS")
        verbose_name_plural = _("inbound SMS")
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.message_sid} ({self.get_outcome_display()})"
