"""Alerts' tables: the dispatch policy, one alert per (incident, volunteer), its deliveries per
channel and kind with the attempt history of each, and the demo's outbox of recorded messages."""

from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DispatchPolicy(models.Model):
    """How many volunteers to alert, how far, and when to escalate; edited in the admin.

    The defaults follow today's Hjerteløber practice. The newest active row is in force.
    """

    name = models.CharField(_("name"), max_length=100, default="Standard")
    is_active = models.BooleanField(_("active"), default=True)
    app_volunteers_per_wave = models.PositiveSmallIntegerField(
        _("app volunteers per wave"), default=20
    )
    radius_m = models.PositiveIntegerField(_("first radius (m)"), default=5000)
    max_radius_m = models.PositiveIntegerField(_("maximum radius (m)"), default=10000)
    radius_step_m = models.PositiveIntegerField(_("radius widening per wave (m)"), default=2500)
    max_waves = models.PositiveSmallIntegerField(_("maximum waves"), default=3)
    target_accepted = models.PositiveSmallIntegerField(
        _("target of accepted responders"), default=5
    )
    aed_fetchers = models.PositiveSmallIntegerField(_("AED fetchers at most"), default=4)
    aed_search_radius_m = models.PositiveIntegerField(_("AED search radius (m)"), default=2000)
    max_aed_detour_m = models.PositiveIntegerField(
        _("acceptable AED detour (m)"),
        default=1500,
        help_text=_("Extra distance a responder may walk via an AED instead of going directly."),
    )
    location_max_age_s = models.PositiveIntegerField(
        _("maximum age of a volunteer's location (s)"), default=1800
    )
    escalate_after_s = models.PositiveIntegerField(_("escalate after (s)"), default=60)
    push_receipt_timeout_s = models.PositiveIntegerField(
        _("SMS fallback when push is unconfirmed after (s)"), default=10
    )
    sms_validity_s = models.PositiveIntegerField(_("SMS validity period (s)"), default=600)
    acceptance_max_distance_m = models.PositiveIntegerField(
        _("accept only within (m)"),
        default=12000,
        help_text=_("A volunteer who has moved farther away than this cannot accept."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("dispatch policy")
        verbose_name_plural = _("dispatch policies")
        ordering = ["-is_active", "-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="dispatch_policy_one_active",
                violation_error_message=_("Only one dispatch policy can be active."),
            ),
            models.CheckConstraint(
                condition=models.Q(max_radius_m__gte=models.F("radius_m")),
                name="dispatch_policy_max_radius_covers_first",
            ),
            models.CheckConstraint(
                condition=models.Q(app_volunteers_per_wave__gte=1, target_accepted__gte=1),
                name="dispatch_policy_positive_counts",
            ),
        ]

    def __str__(self) -> str:
        return self.name


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
    distance_m = models.PositiveIntegerField(_("distance at alert (m)"), null=True, blank=True)
    volunteer_location = models.PointField(
        _("volunteer's location at alert"), geography=True, srid=4326, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    received_at = models.DateTimeField(_("receipt confirmed"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

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
        ]

    def __str__(self) -> str:
        return f"Alert #{self.pk} ({self.get_state_display()})"


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
                fields=["alert", "channel", "kind"], name="delivery_one_per_alert_channel_kind"
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
        return f"{self.channel} → {self.recipient[:20]}"


# The AEDs sent for and the messages to their contacts, in a module of their own.
from alerts.models_aeds import AedNotice, AedUse  # noqa: E402

__all__ = [
    "AedNotice",
    "AedUse",
    "Alert",
    "AlertDelivery",
    "AlertDeliveryAttempt",
    "DispatchPolicy",
    "OutboxMessage",
]
