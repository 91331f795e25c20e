"""The AED registry: Defibrillator, with its opening hours, access, expiry dates and contact;
and AedImportRun, the record of each guarded import from a configured source."""

import datetime as dt

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

# The battery or pads expire "soon" (admin flag, the contact's reminder) within this many days.
EXPIRY_WARNING_DAYS = 30


class DefibrillatorQuerySet(models.QuerySet):
    def active(self) -> "DefibrillatorQuerySet":
        return self.filter(status=Defibrillator.Status.ACTIVE)

    def expired(self, *, today: dt.date) -> "DefibrillatorQuerySet":
        """Battery or pads past their date: such an AED is never assigned."""
        return self.filter(
            models.Q(battery_expires_on__lt=today) | models.Q(pads_expire_on__lt=today)
        )

    def not_expired(self, *, today: dt.date) -> "DefibrillatorQuerySet":
        return self.exclude(
            models.Q(battery_expires_on__lt=today) | models.Q(pads_expire_on__lt=today)
        )

    def expiring(
        self, *, today: dt.date, days: int = EXPIRY_WARNING_DAYS
    ) -> "DefibrillatorQuerySet":
        """Battery or pads expiring from today to ``days`` ahead (not yet expired)."""
        window = (today, today + dt.timedelta(days=days))
        return self.filter(
            models.Q(battery_expires_on__range=window) | models.Q(pads_expire_on__range=window)
        )


class Defibrillator(models.Model):
    """An AED (hjertestarter). The cabinet code is stored for responders, never listed."""

    class Access(models.TextChoices):
        PUBLIC = "public", _("Public")
        RESTRICTED = "restricted", _("Restricted (by its opening hours)")
        PRIVATE = "private", _("Private (only its corps or owner)")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")

    class Source(models.TextChoices):
        OSM = "osm", _("OpenStreetMap")
        CSV = "csv", _("CSV import")
        MANUAL = "manual", _("Entered manually")
        SYNTHETIC = "synthetic", _("Synthetic (demo)")

    location = models.PointField(_("location"), geography=True, srid=4326)
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=255, blank=True)
    placement = models.CharField(
        _("placement"),
        max_length=255,
        blank=True,
        help_text=_("Where exactly, e.g. 'by the main entrance'."),
    )
    indoor = models.BooleanField(_("indoor"), null=True, blank=True)
    floor = models.CharField(_("floor"), max_length=20, blank=True)
    access = models.CharField(
        _("access"),
        max_length=12,
        choices=Access.choices,
        default=Access.PUBLIC,
        help_text=_(
            "Public: anyone may fetch it. Restricted: only while open by its opening hours. "
            "Private: only a member of a corps that has it as its own AED, or its owner."
        ),
    )
    opening_hours = models.CharField(
        _("opening hours"),
        max_length=255,
        default="24/7",
        help_text=_("OpenStreetMap opening_hours syntax, e.g. '24/7' or 'Mo-Fr 08:00-16:00'."),
    )
    cabinet_code = models.CharField(_("cabinet code"), max_length=32, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    battery_expires_on = models.DateField(_("battery expires"), null=True, blank=True)
    pads_expire_on = models.DateField(_("pads expire"), null=True, blank=True)
    owner_name = models.CharField(_("owner"), max_length=200, blank=True)
    owner_phone = models.CharField(_("owner phone"), max_length=32, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    contact_phone = PhoneNumberField(
        _("contact's mobile"),
        blank=True,
        help_text=_(
            "Told by SMS when the AED is taken (and asked to reply RETUR when it is back) and "
            "reminded before the battery or pads expire. Without it, the owner's phone is used."
        ),
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    source_id = models.CharField(_("source id"), max_length=100)
    source_tags = models.JSONField(_("source tags"), default=dict, blank=True)
    synthetic = models.BooleanField(
        _("synthetic"), default=False, help_text=_("Generated demo data, not a real AED.")
    )
    removed_from_source_at = models.DateTimeField(
        _("gone from its source"),
        null=True,
        blank=True,
        help_text=_("A periodic import no longer found it: made inactive, kept for the record."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = DefibrillatorQuerySet.as_manager()

    class Meta:
        verbose_name = _("defibrillator")
        verbose_name_plural = _("defibrillators")
        ordering = ["name"]
        # Beyond "view": the admin masks these without them (config.masking).
        permissions = [
            ("view_cabinet_code", _("Can view AED cabinet codes")),
            ("view_contact_phone", _("Can view AED owners' and contacts' phone numbers")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_id"], name="defibrillator_unique_source_id"
            ),
            models.CheckConstraint(
                condition=~models.Q(source_id=""), name="defibrillator_source_id_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(access__in=["public", "restricted", "private"]),
                name="defibrillator_access_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "inactive"]),
                name="defibrillator_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(synthetic=False) | models.Q(source="synthetic"),
                name="defibrillator_synthetic_only_from_synthetic_source",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def next_expiry(self) -> dt.date | None:
        """The earlier of the battery's and the pads' dates, if either is recorded."""
        dates = [d for d in (self.battery_expires_on, self.pads_expire_on) if d]
        return min(dates) if dates else None

    def is_expired(self, today: dt.date) -> bool:
        expiry = self.next_expiry
        return expiry is not None and expiry < today


class AedImportRun(models.Model):
    """One run of the periodic AED import: what it read, what it changed, or why it refused.

    A run that would take away more than the allowed share of the source's current AEDs is
    refused and changes nothing, so a truncated or broken export never empties the registry.
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        IMPORTED = "imported", _("Imported")
        REFUSED = "refused", _("Refused (the last good data kept)")
        FAILED = "failed", _("Failed (nothing changed)")

    source = models.CharField(_("source"), max_length=1000)
    file_format = models.CharField(_("format"), max_length=10, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    rows = models.PositiveIntegerField(_("rows read"), default=0)
    current = models.PositiveIntegerField(
        _("current AEDs of the source"), default=0, help_text=_("Before the run.")
    )
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    removed = models.PositiveIntegerField(
        _("removed"), default=0, help_text=_("Gone from the source: made inactive.")
    )
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    skipped_rows = models.JSONField(
        _("skipped rows"), default=list, blank=True, help_text=_("Each with its reason.")
    )
    reason = models.TextField(_("why refused or failed"), blank=True)

    class Meta:
        verbose_name = _("AED import run")
        verbose_name_plural = _("AED import runs")
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.get_status_display()}"
