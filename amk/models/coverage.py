"""The coverage grid: squares over the region with how many volunteers could be alerted around
each, now and on average by hour of day, and how many AEDs are available now.

Only counts are kept, never who or where: the refresh (amk.insight.coverage) replaces the counts
of now and folds them into running averages per hour of day.
"""

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.utils.translation import gettext_lazy as _

from amk.models.territory import Municipality


def _zeros() -> list[float]:
    return [0.0] * 24


def _no_samples() -> list[int]:
    return [0] * 24


class CoverageCell(models.Model):
    """One square of the grid (EPSG:25832, COVERAGE_CELL_M on a side) whose centre lies in the
    region; the counts are of available volunteers within 500 m, 1 km and 2 km of the centre."""

    code = models.CharField(_("cell"), max_length=32, unique=True)
    centre = models.PointField(_("centre"), geography=True, srid=4326)
    square = models.PolygonField(_("square"), srid=4326)
    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("municipality"),
    )
    local_area = models.ForeignKey(
        "volunteers.LocalArea",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("local area"),
    )
    within_500 = models.PositiveIntegerField(_("within 500 m now"), default=0)
    within_1000 = models.PositiveIntegerField(_("within 1 km now"), default=0)
    within_2000 = models.PositiveIntegerField(_("within 2 km now"), default=0)
    aeds_1000 = models.PositiveIntegerField(_("AEDs available within 1 km now"), default=0)
    # Running averages per local hour of day (index 0 = 00-01), and the samples behind each.
    hourly_500 = ArrayField(models.FloatField(), size=24, default=_zeros)
    hourly_1000 = ArrayField(models.FloatField(), size=24, default=_zeros)
    hourly_2000 = ArrayField(models.FloatField(), size=24, default=_zeros)
    hourly_samples = ArrayField(models.PositiveIntegerField(), size=24, default=_no_samples)
    computed_at = models.DateTimeField(_("computed"), null=True, blank=True)

    class Meta:
        verbose_name = _("coverage cell")
        verbose_name_plural = _("coverage cells")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code
