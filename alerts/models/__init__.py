"""Alerts' tables: the dispatch policy, one alert per (incident, volunteer), its deliveries per
channel and kind with the attempt history of each, and the demo's outbox of recorded messages.
The SMS volunteers send back are in ``alerts.models.inbound``."""

import datetime as dt

from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.models.aeds import AedNotice, AedUse
from alerts.models.inbound import InboundMessage
from alerts.models.policy import DispatchPolicy
from amk.models.incident import Incident

__all__ = [
    "Alert",
    "AlertDelivery",
    "AlertDeliveryAttempt",
    "DispatchPolicy",
    "InboundMessage",
    "OutboxMessage",
]


class AlertQuerySet(models.QuerySet):
    def engaged(self) -> "AlertQuerySet":
        """Responders at work: accepted, not finished, released or stood down, on an open
        incident. A volunteer with one is not alerted for, and cannot accept, another."""
        return self.filter(state__in=Alert.ENGAGED_STATES, incident__state__in=Incident.OPEN_STATES)

    def keeping_busy(self, *, rest_since: dt.datetime) -> "AlertQuerySet":
        """The alerts that keep their volunteer from being alerted for a new incident:
        engaged, or an engagement that ended after `rest_since` (the policy's rest period).

        The partial index alert_engagement_idx holds exactly the engagements (accepted alerts,
        running or ended), by volunteer: candidate selection runs the same rule in SQL.
        """
        return self.filter(answered_at__isnull=False, state__in=Alert.ENGAGEMENT_STATES).filter(
            models.Q(state__in=Alert.ENGAGED_STATES, incident__state__in=Incident.OPEN_STATES)
            | models.Q(ended_at__gt=rest_since)
        )


class Alert(models.Model):
    """One volunteer called to one incident; unique per pair, so a re-run never alerts twice."""

    class Pool(models.TextChoices):
        APP = "app", _("Hjerteløber (app)")
        CORPS = "corps", _("1-1-2 førstehjælper")

    class Role(models.TextChoices):
        NONE = "", _("Not assigned")
        CPR = "cpr", _("Go to the patient, start CPR")
        AED = "aed", _("Fetch the AED first")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EN_ROUTE = "en_route", _("En route")
        AED_COLLECTED = "aed_collected", _("AED collected")
        ON_SCENE = "on_scene", _("On scene")
        RELEASED = "released", _("Released")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")
        FAILED = "failed", _("Failed")

    WAITING_STATES = (State.QUEUED, State.SENT, State.DELIVERED)
    RESPONDING_STATES = (State.ACCEPTED, State.EN_ROUTE, State.AED_COLLECTED, State.ON_SCENE)
    # Alerts that still get messages: unanswered or responding.
    LIVE_STATES = (*WAITING_STATES, *RESPONDING_STATES)
    # Engaged: a responder at work, in one of these states on an open incident
    # (Alert.objects.engaged()); never at two incidents at once.
    ENGAGED_STATES = RESPONDING_STATES
    # An engagement is an accepted alert (answered_at set): still running, or ended by the
    # responder (finished, withdrawn) or by the incident's end (released, stood down).
    ENGAGEMENT_STATES = (*ENGAGED_STATES, State.RELEASED, State.CANCELLED)

    incident = models.ForeignKey(
        "amk.Incident", on_delete=models.CASCADE, related_name="alerts", verbose_name=_("incident")
    )
    volunteer = models.ForeignKey(
        "volunteers.Volunteer",
        on_delete=models.SET_NULL,
        null=True,
        related_name="alerts",
        verbose_name=_("volunteer"),
    )
    pool = models.CharField(_("pool"), max_length=5, choices=Pool.choices)
    wave = models.PositiveSmallIntegerField(_("wave"), default=1)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    role = models.CharField(_("role"), max_length=3, choices=Role.choices, blank=True, default="")
    aed = models.ForeignKey(
        "defibrillators.Defibrillator",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("AED to fetch"),
    )
    role_by_dispatcher = models.BooleanField(
        _("role set by the dispatcher"),
        default=False,
        help_text=_("Kept when the roles are worked out again."),
    )
    arrival_estimated_at = models.DateTimeField(_("estimated arrival"), null=True, blank=True)
    distance_m = models.PositiveIntegerField(_("distance at alert (m)"), null=True, blank=True)
    volunteer_location = models.PointField(
        _("volunteer's location at alert"), geography=True, srid=4326, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    received_at = models.DateTimeField(_("receipt confirmed"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(
        _("ended"),
        null=True,
        blank=True,
        help_text=_("When the alert stopped being live: answered no, released, stood down, …"),
    )

    objects = AlertQuerySet.as_manager()

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["incident", "distance_m", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "volunteer"], name="alert_one_per_incident_volunteer"
            ),
            models.UniqueConstraint(
                fields=["incident", "aed"],
                condition=models.Q(aed__isnull=False),
                name="alert_aed_claimed_once_per_incident",
            ),
            models.CheckConstraint(
                condition=models.Q(role="aed", aed__isnull=False)
                | (~models.Q(role="aed") & models.Q(aed__isnull=True)),
                name="alert_aed_iff_aed_role",
            ),
        ]
        indexes = [
            models.Index(fields=["volunteer", "-created_at"], name="alert_volunteer_recent_idx"),
            # The sweep's expiry: only unanswered alerts, a few per running incident.
            models.Index(
                fields=["created_at"],
                name="alert_waiting_idx",
                condition=models.Q(state__in=["queued", "sent", "delivered"]),
            ),
            # The engagements (ENGAGEMENT_STATES, accepted), by volunteer and end: candidate
            # selection leaves out whoever has one running or ended within the rest period.
            models.Index(
                fields=["volunteer", "ended_at"],
                name="alert_engagement_idx",
                condition=models.Q(
                    answered_at__isnull=False,
                    state__in=[
                        "accepted",
                        "en_route",
                        "aed_collected",
                        "on_scene",
                        "released",
                        "cancelled",
                    ],
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"Alert #{self.pk} ({self.get_state_display()})"

    def is_expired(self, *, valid_s: int, now: dt.datetime) -> bool:
        """Expired, or still unanswered past its validity (the sweep moves it within seconds,
        and nothing treats it as open meanwhile)."""
        return self.state == self.State.EXPIRED or (
            self.state in self.WAITING_STATES
            and now - self.created_at >= dt.timedelta(seconds=valid_s)
        )


class AlertDelivery(models.Model):
    """One message on one channel for an alert; its state moves by conditional UPDATE only."""

    class Channel(models.TextChoices):
        PUSH = "push", _("Push")
        SMS = "sms", _("SMS")

    class Kind(models.TextChoices):
        ALERT = "alert", _("Alert")
        DETAILS = "details", _("Address and role")
        RELEASE = "release", _("Released, thank you")
        STAND_DOWN = "stand_down", _("Stand-down")
        ROLE = "role", _("New role")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("alert")
    )
    channel = models.CharField(_("channel"), max_length=4, choices=Channel.choices)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.ALERT)
    state = models.CharField(_("state"), max_length=9, choices=State.choices, default=State.PENDING)
    revision = models.PositiveSmallIntegerField(
        _("revision"), default=0, help_text=_("The n-th message of this kind (a new role: 1, 2, …)")
    )
    provider_message_id = models.CharField(_("provider message id"), max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    handed_over_at = models.DateTimeField(
        _("handed to the provider"),
        null=True,
        blank=True,
        help_text=_("Set just before the provider is called: a take-over after it must not resend"),
    )
    outcome_unknown_since = models.DateTimeField(
        _("provider's answer lost since"),
        null=True,
        blank=True,
        help_text=_("An attempt timed out after sending: the next one checks before resending."),
    )
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["alert", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel", "kind", "revision"],
                name="delivery_one_per_alert_channel_kind",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_unfinished_idx",
                condition=models.Q(state__in=["pending", "sending"]),
            ),
            models.Index(fields=["provider_message_id"], name="delivery_provider_id_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_channel_display()} {self.get_kind_display()} ({self.get_state_display()})"
        )


class AlertDeliveryAttempt(models.Model):
    """One hand-over of a delivery to its provider and what came of it: the record of every try.

    Written by the delivery engine in the statements that move the delivery: the row at the
    hand-over, its outcome with the delivery's next state. A row still awaiting the provider
    when another sender takes the delivery over becomes "outcome unknown".
    """

    class Outcome(models.TextChoices):
        IN_FLIGHT = "", _("Awaiting the provider")
        SENT = "sent", _("Sent")
        TRANSIENT_ERROR = "transient", _("Temporary error")
        PERMANENT_ERROR = "permanent", _("Permanent error")
        OUTCOME_UNKNOWN = "unknown", _("Outcome unknown")
        RECONCILED = "reconciled", _("Found in the provider's log")

    # Indexed by the unique constraint (delivery, number).
    delivery = models.ForeignKey(
        AlertDelivery,
        on_delete=models.CASCADE,
        related_name="attempt_history",
        db_index=False,
        verbose_name=_("delivery"),
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    claimed_at = models.DateTimeField(_("claimed"))
    handed_over_at = models.DateTimeField(_("handed to the provider"))
    finished_at = models.DateTimeField(_("answered"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, blank=True, default=Outcome.IN_FLIGHT
    )
    provider_message_id = models.CharField(_("provider message id"), max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="delivery_attempt_one_per_number"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.get_outcome_display()}"


class OutboxMessage(models.Model):
    """A message recorded by the demo's outbox backends instead of being sent to a provider."""

    channel = models.CharField(_("channel"), max_length=4, choices=AlertDelivery.Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=4096, db_index=True)
    body = models.TextField(_("text"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    provider_message_id = models.CharField(_("message id"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        # Not the recipient: the title of the admin's page, seen by staff who may not see it.
        return f"{self.channel} #{self.pk}"


__all__ = [
    "AedNotice",
    "AedUse",
    "Alert",
    "AlertDelivery",
    "AlertDeliveryAttempt",
    "DispatchPolicy",
    "OutboxMessage",
]
