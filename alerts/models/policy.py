"""The dispatch policy: how many to alert, how far, when to escalate, replace and expire."""

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class DispatchPolicy(models.Model):
    """How many volunteers to alert, how far, and when to escalate; edited in the admin.

    The defaults follow Hjerteløber's practice (one alert to the 20 nearest within 5 km) and the
    policy simulator's figures (docs/simulation.md): further, wider waves added alerts to far
    volunteers who arrive after the ambulance, and no survival. The newest active row is in
    force: it is copied onto each incident as it is created (``Incident.dispatch_policy``), so
    an edit applies to new incidents only; alerts reads a running incident's values through
    ``alerts.selectors.policy.incident_policy``. A migration creates the first row (with the
    defaults of its time: three waves; an installation changes it in the admin).
    """

    class Mode(models.TextChoices):
        WAVES = "waves", _("Timed waves, each wider than the last")
        REPLACE = "replace", _("Replace each who declines, expires or withdraws")

    name = models.CharField(_("name"), max_length=100, default="Standard")
    is_active = models.BooleanField(_("active"), default=True)
    app_volunteers_per_wave = models.PositiveSmallIntegerField(
        _("app volunteers per wave"), default=20
    )
    radius_m = models.PositiveIntegerField(_("first radius (m)"), default=5000)
    max_radius_m = models.PositiveIntegerField(_("maximum radius (m)"), default=10000)
    radius_step_m = models.PositiveIntegerField(_("radius widening per wave (m)"), default=2500)
    max_waves = models.PositiveSmallIntegerField(_("maximum waves"), default=1)
    target_accepted = models.PositiveSmallIntegerField(
        _("target of accepted responders"), default=5
    )
    aed_search_radius_m = models.PositiveIntegerField(_("AED search radius (m)"), default=2000)
    travel_speed_mps = models.FloatField(
        _("responders' travel speed (m/s)"),
        default=2.3,
        validators=[MinValueValidator(0.5)],
        help_text=_("The median measured for Swedish responders is 2.3 m/s."),
    )
    detour_factor = models.FloatField(
        _("detour factor"),
        default=1.3,
        validators=[MinValueValidator(1.0)],
        help_text=_("The way by streets and paths is this much longer than the straight line."),
    )
    aed_max_arrival_s = models.PositiveIntegerField(
        _("an AED is fetched only if it arrives within (s)"),
        default=720,
        help_text=_(
            "Estimated from the acceptance; a later AED is left to the ambulance, and the "
            "responder goes straight to the patient."
        ),
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
    alert_valid_s = models.PositiveIntegerField(
        _("an unanswered alert expires after (s)"),
        default=600,
        validators=[MinValueValidator(60)],
        help_text=_(
            "After this an alert can no longer be accepted, its messages stop, and in replace "
            "mode the next nearest volunteer is alerted instead."
        ),
    )
    auto_close_after_s = models.PositiveIntegerField(
        _("an open incident closes itself after (s)"),
        default=3600,
        validators=[MinValueValidator(300)],
        help_text=_(
            "Counted from its creation; the responders get the closing message, as when the "
            "dispatcher closes it."
        ),
    )
    mode = models.CharField(
        _("alerting mode"),
        max_length=7,
        choices=Mode.choices,
        default=Mode.WAVES,
        help_text=_(
            "Waves: a wider wave after each escalation period while too few have accepted, up "
            "to the maximum number of waves. Replace: the nearest volunteers within the maximum "
            "radius, and each decline, expiry or withdrawal replaced by the next nearest, "
            "keeping a set number of alerts unanswered until the target has accepted."
        ),
    )
    outstanding_target = models.PositiveSmallIntegerField(
        _("unanswered alerts to keep out (replace mode)"),
        default=7,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Hjerteløbere with the app; the local 1-1-2 corps is alerted in full besides, as in "
            "waves mode."
        ),
    )
    cooldown_after_incident_s = models.PositiveIntegerField(
        _("rest after an incident (s)"),
        default=0,
        help_text=_(
            "After their part in an incident ends (finished, withdrawn or stood down), a "
            "responder is not alerted again for this long. 0: no rest period."
        ),
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
            models.CheckConstraint(
                condition=models.Q(
                    outstanding_target__gte=1, alert_valid_s__gte=1, auto_close_after_s__gte=1
                ),
                name="dispatch_policy_lifecycle_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(mode__in=["waves", "replace"]),
                name="dispatch_policy_mode_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name
