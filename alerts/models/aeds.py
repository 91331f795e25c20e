"""The AEDs sent for: each use of an AED from its assignment to a responder until someone confirms
it is back (``AedUse``: while open, the AED is "in use" and never assigned), and the SMS to an
AED's owner or contact (``AedNotice``: it was taken, or its battery or pads expire soon)."""

from django.conf import settings
from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AedUse(models.Model):
    """One AED sent for, from the assignment until its return is confirmed: the audit record of
    who took it (the alert, and through it the volunteer and the incident), whether they
    reported collecting it, and who confirmed its return, how and when.

    Opened and closed by alerts.services.aed_uses only: an alert's AED set by
    ``alert_move`` opens one; an AED given up before it was collected ends as not taken.
    """

    class Ending(models.TextChoices):
        OPEN = "", _("In use")
        RETURNED = "returned", _("Returned")
        NOT_TAKEN = "not_taken", _("Not taken (given up before it was collected)")

    class Via(models.TextChoices):
        NONE = "", _("–")
        APP = "app", _("The fetcher, in the app")
        SMS = "sms", _("The owner or contact, by SMS")
        ADMIN = "admin", _("An administrator")
        DISPATCH = "dispatch", _("The dispatch (the responder gave it up)")

    aed = models.ForeignKey(
        "defibrillators.Defibrillator",
        on_delete=models.CASCADE,
        related_name="uses",
        verbose_name=_("AED"),
    )
    alert = models.ForeignKey(
        "alerts.Alert",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="aed_uses",
        verbose_name=_("fetcher's alert"),
    )
    taken_at = models.DateTimeField(_("sent for"), default=timezone.now)
    collected_at = models.DateTimeField(_("collected (reported)"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    ending = models.CharField(
        _("ending"), max_length=10, choices=Ending.choices, blank=True, default=Ending.OPEN
    )
    ended_via = models.CharField(
        _("confirmed by"), max_length=10, choices=Via.choices, blank=True, default=Via.NONE
    )
    ended_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by administrator"),
    )
    ended_by_phone = models.CharField(_("confirmed from number"), max_length=32, blank=True)
    contact_phone = models.CharField(
        _("contact told"), max_length=32, blank=True, help_text=_("The number told it was taken.")
    )

    class Meta:
        verbose_name = _("AED use")
        verbose_name_plural = _("AED uses")
        ordering = ["-taken_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["aed"],
                condition=models.Q(ended_at__isnull=True),
                name="aed_use_one_open_per_aed",
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True, ending="")
                | models.Q(ended_at__isnull=False, ending__in=["returned", "not_taken"]),
                name="aed_use_ended_with_a_reason",
            ),
        ]
        indexes = [models.Index(fields=["alert"], name="aed_use_alert_idx")]

    def __str__(self) -> str:
        return f"{self.aed_id} {self.get_ending_display()}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class AedNotice(models.Model):
    """One SMS to an AED's owner or contact, sent with the delivery engine's guarantees: claimed
    by a conditional UPDATE (a task run twice sends once), retried with backoff, and looked up
    in the provider's log before any resend after a lost answer (its text names it, "ref. N").
    One per use (taken) and one per AED and expiry date (reminder), by constraint."""

    class Kind(models.TextChoices):
        TAKEN = "taken", _("AED taken: confirm its return")
        EXPIRY = "expiry", _("Battery or pads expire soon")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    aed = models.ForeignKey(
        "defibrillators.Defibrillator",
        on_delete=models.CASCADE,
        related_name="notices",
        verbose_name=_("AED"),
    )
    kind = models.CharField(_("kind"), max_length=6, choices=Kind.choices)
    use = models.ForeignKey(
        AedUse,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notices",
        verbose_name=_("use"),
    )
    expires_on = models.DateField(_("expiry date"), null=True, blank=True)
    to = models.CharField(_("to"), max_length=32)
    body = models.TextField(_("text"))
    state = models.CharField(_("state"), max_length=7, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    handed_over_at = models.DateTimeField(_("handed to the provider"), null=True, blank=True)
    outcome_unknown_since = models.DateTimeField(
        _("provider's answer lost since"), null=True, blank=True
    )
    provider_message_id = models.CharField(_("provider message id"), max_length=200, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("message to an AED's contact")
        verbose_name_plural = _("messages to AED contacts")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["use"], condition=models.Q(kind="taken"), name="aed_notice_one_per_use"
            ),
            models.UniqueConstraint(
                fields=["aed", "expires_on"],
                condition=models.Q(kind="expiry"),
                name="aed_notice_one_per_expiry_date",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="taken", use__isnull=False)
                | models.Q(kind="expiry", expires_on__isnull=False),
                name="aed_notice_kind_has_its_subject",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="aed_notice_unfinished_idx",
                condition=models.Q(state__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_state_display()})"
