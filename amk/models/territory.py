"""The territory amk dispatches in: DAGI regions, municipalities and postcodes, and the gazetteer's
places. Reference data below the registries: volunteers and defibrillators may use it."""

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class Region(models.Model):
    """A Danish region (DAGI); the service region bounds where incidents may be created."""

    code = models.CharField(_("region code"), max_length=4, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    area = models.MultiPolygonField(_("area"), srid=4326)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Municipality(models.Model):
    code = models.CharField(_("municipality code"), max_length=4, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="municipalities", null=True, blank=True
    )
    area = models.MultiPolygonField(_("area"), srid=4326)

    class Meta:
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Postcode(models.Model):
    number = models.CharField(_("postcode"), max_length=4, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    area = models.MultiPolygonField(_("area"), srid=4326)

    class Meta:
        verbose_name = _("postcode")
        verbose_name_plural = _("postcodes")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class Place(models.Model):
    """A named town, village or hamlet from the gazetteer, for offline place search."""

    name = models.CharField(_("name"), max_length=150, db_index=True)
    municipality = models.ForeignKey(
        Municipality, on_delete=models.SET_NULL, null=True, blank=True, related_name="places"
    )
    point = models.PointField(_("point"), geography=True, srid=4326)

    class Meta:
        verbose_name = _("place")
        verbose_name_plural = _("places")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "point"], name="place_unique_name_point"),
        ]

    def __str__(self) -> str:
        return self.name
