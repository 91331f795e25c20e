"""The incident: Incident (the row is also the dispatch outbox) and IncidentEvent (its timeline)."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.utils.translation import gettext_lazy as _

from amk.models.territory import Municipality


class Incident(models.Model):
    """A suspected out-of-hospital cardiac arrest; the row is also the dispatch outbox."""

    class State(models.TextChoices):
        PENDING_DISPATCH = "pending_dispatch", _("Pending dispatch")
        DISPATCHING = "dispatching", _("Dispatching")
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", _("Cancelled")
        CLOSED = "closed", _("Closed")

    class Exclusion(models.TextChoices):
        CHILD_UNDER_8 = "child_under_8", _("Child under 8 years")
        UNSAFE_SCENE = "unsafe_scene", _("Unsafe scene (violence, traffic, fire)")
        TRAUMA = "trauma", _("Trauma")
        CARE_FACILITY = "care_facility", _("Care facility with staff present")
        SUICIDE_ATTEMPT = "suicide_attempt", _("Suspected suicide")
        OBVIOUS_DEATH = "obvious_death", _("Obvious signs of death")

    OPEN_STATES = (State.PENDING_DISPATCH, State.DISPATCHING, State.ACTIVE)

    location = models.PointField(_("location"), geography=True, srid=4326)
    address = models.CharField(_("address"), max_length=255, blank=True)
    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        related_name="incidents",
        verbose_name=_("municipality"),
    )
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.PENDING_DISPATCH
    )
    note = models.TextField(_("note"), blank=True)
    exclusion_reasons = ArrayField(
        models.CharField(max_length=20, choices=Exclusion.choices),
        verbose_name=_("reasons volunteers were not activated"),
        default=list,
        blank=True,
    )
    dispatch_wave = models.PositiveSmallIntegerField(_("waves sent"), default=0)
    dispatch_radius_m = models.PositiveIntegerField(_("current radius (m)"), null=True, blank=True)
    last_wave_at = models.DateTimeField(_("last wave"), null=True, blank=True)
    # The dispatch policy in force when the incident was created, copied in the creating
    # transaction (amk.services.incidents.incident_policy_record): admin edits apply to new
    # incidents only. Empty for incidents older than the copy (the current policy applies).
    dispatch_policy = models.JSONField(
        _("dispatch policy in force"), default=dict, blank=True, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="incidents_created",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-created_at"]
        # Management's pages: activation statistics and the policy simulator.
        permissions = [("view_statistics", _("Can view statistics and run the policy simulator"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    state__in=["pending_dispatch", "dispatching", "active", "cancelled", "closed"]
                ),
                name="incident_state_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    closed_at__isnull=True, state__in=["pending_dispatch", "dispatching", "active"]
                )
                | models.Q(closed_at__isnull=False, state__in=["cancelled", "closed"]),
                name="incident_closed_at_iff_ended",
            ),
        ]
        indexes = [
            models.Index(
                fields=["state", "updated_at"],
                name="incident_open_idx",
                condition=models.Q(state__in=["pending_dispatch", "dispatching", "active"]),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.address or self.municipality}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class IncidentEvent(models.Model):
    """The incident's timeline and audit trail: every state change with time and actor."""

    incident = models.ForeignKey(
        "amk.Incident", on_delete=models.CASCADE, related_name="events", verbose_name=_("incident")
    )
    alert = models.ForeignKey(
        "alerts.Alert", on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )

    class Kind(models.TextChoices):
        """Every kind of timeline entry; the timeline renders its label and style from it."""

        CREATED = "created", _("Created")
        NOT_ACTIVATED = "not_activated", _("Volunteers not activated")
        WAVE = "wave", _("Wave sent")
        WAVE_REQUESTED = "wave_requested", _("Next wave requested")
        AED_CLAIMED = "aed_claimed", _("AED to be fetched")
        ROLE_CHANGED = "role_changed", _("Role changed")
        NOTE = "note", _("Note")
        CANCELLED = "cancelled", _("Cancelled")
        CLOSED = "closed", _("Closed")
        AUTO_CLOSED = "auto_closed", _("Closed automatically")
        REPLACEMENTS = "replacements", _("Replacements alerted")
        # An alert's move, named after the alert state it moved to.
        ALERT_SENT = "alert_sent", _("Alert sent")
        ALERT_DELIVERED = "alert_delivered", _("Alert delivered")
        ALERT_ACCEPTED = "alert_accepted", _("Accepted")
        ALERT_DECLINED = "alert_declined", _("Declined")
        ALERT_EN_ROUTE = "alert_en_route", _("En route")
        ALERT_AED_COLLECTED = "alert_aed_collected", _("AED collected")
        ALERT_ON_SCENE = "alert_on_scene", _("On scene")
        ALERT_RELEASED = "alert_released", _("Released")
        ALERT_CANCELLED = "alert_cancelled", _("Stood down")
        ALERT_EXPIRED = "alert_expired", _("Expired")
        ALERT_FAILED = "alert_failed", _("Not reached")

        @classmethod
        def for_alert_state(cls, alert_state: str) -> "IncidentEvent.Kind":
            return cls(f"alert_{alert_state}")

    kind = models.CharField(_("event"), max_length=40, choices=Kind.choices)
    message = models.CharField(_("message"), max_length=500)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("incident event")
        verbose_name_plural = _("incident events")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["incident", "created_at"], name="event_incident_time_idx")]

    def __str__(self) -> str:
        return self.message
