"""The AED registry: Defibrillator, with its opening hours, access and expiry dates."""

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class DefibrillatorQuerySet(models.QuerySet):
    def active(self) -> "DefibrillatorQuerySet":
        return self.filter(status=Defibrillator.Status.ACTIVE)


class Defibrillator(models.Model):
    """An AED (hjertestarter). The cabinet code is stored for responders, never listed."""

    class Access(models.TextChoices):
        PUBLIC = "public", _("Public")
        RESTRICTED = "restricted", _("Restricted (e.g. staff or opening hours)")
        PRIVATE = "private", _("Private")

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
        _("access"), max_length=12, choices=Access.choices, default=Access.PUBLIC
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
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    source_id = models.CharField(_("source id"), max_length=100)
    source_tags = models.JSONField(_("source tags"), default=dict, blank=True)
    synthetic = models.BooleanField(
        _("synthetic"), default=False, help_text=_("Generated demo data, not a real AED.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = DefibrillatorQuerySet.as_manager()

    class Meta:
        verbose_name = _("defibrillator")
        verbose_name_plural = _("defibrillators")
        ordering = ["name"]
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
