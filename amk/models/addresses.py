"""The address register: DAR access addresses (adgangsadresser) kept locally, for the
dispatcher's address search, and what its import and replication need.

Reference data beside the territory: the register is filled from a DAR extract in the DAWA
format and kept current with DAWA's replication events (amk.services.addresses).
"""

from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex
from django.utils.translation import gettext_lazy as _


class AccessAddress(models.Model):
    """An access address: a street, a house number, a postcode and the entrance's point.

    ``synthetic`` marks generated demo and benchmark rows, never real DAR data.
    """

    id = models.UUIDField(primary_key=True)
    # DAR status: 1 valid, 3 provisional (DAWA's "status").
    status = models.PositiveSmallIntegerField(_("status"), default=1)
    municipality_code = models.CharField(_("municipality code"), max_length=4, blank=True)
    street_code = models.CharField(_("street code"), max_length=4, blank=True)
    street_name = models.CharField(_("street"), max_length=80)
    house_number = models.CharField(_("house number"), max_length=8)
    supplementary_town = models.CharField(_("supplementary town name"), max_length=60, blank=True)
    postcode = models.CharField(_("postcode"), max_length=4)
    postcode_name = models.CharField(_("postcode name"), max_length=60)
    point = models.PointField(_("point"), geography=True, srid=4326)
    synthetic = models.BooleanField(_("synthetic"), default=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("access address")
        verbose_name_plural = _("access addresses")
        indexes = [
            # The house numbers of a street found by the trigram search (AddressStreet).
            models.Index(
                fields=["street_name", "postcode", "house_number"], name="address_street_number"
            ),
            # Replication: a street (vejstykke) renamed renames its addresses.
            models.Index(fields=["municipality_code", "street_code"], name="address_street_code"),
            models.Index(fields=["postcode"], name="address_postcode"),
        ]

    def __str__(self) -> str:
        return address_label(
            self.street_name,
            self.house_number,
            self.supplementary_town,
            self.postcode,
            self.postcode_name,
        )


def address_label(street: str, number: str, town: str, postcode: str, postcode_name: str) -> str:
    """DAWA's "betegnelse": "Vejnavn husnr, supplerende bynavn, postnr postnrnavn"."""
    parts = [f"{street} {number}".strip()]
    if town:
        parts.append(town)
    parts.append(f"{postcode} {postcode_name}".strip())
    return ", ".join(parts)


class AddressStreet(models.Model):
    """One street in one postcode, derived from the access addresses: what the trigram search
    runs over (tens of thousands of rows, not millions); the house number is then an indexed
    lookup among that street's addresses. Rebuilt by amk.services.addresses after each change.
    """

    street_name = models.CharField(_("street"), max_length=80)
    postcode = models.CharField(_("postcode"), max_length=4)
    postcode_name = models.CharField(_("postcode name"), max_length=60)
    municipality_code = models.CharField(_("municipality code"), max_length=4, blank=True)
    # Street, supplementary town names and postcode name, normalised (amk_address_normalise).
    search_text = models.TextField(_("search text"))
    address_count = models.PositiveIntegerField(_("addresses"))
    point = models.PointField(_("point"), geography=True, srid=4326, spatial_index=False)
    synthetic = models.BooleanField(_("synthetic"), default=False)

    class Meta:
        verbose_name = _("address street")
        verbose_name_plural = _("address streets")
        constraints = [
            models.UniqueConstraint(
                fields=["street_name", "postcode"], name="address_street_unique"
            ),
        ]
        indexes = [
            GinIndex(
                fields=["search_text"], name="address_street_trgm", opclasses=["gin_trgm_ops"]
            ),
            # A typed postcode narrows the streets to a few dozen before any similarity.
            models.Index(fields=["postcode"], name="address_street_postcode"),
        ]

    def __str__(self) -> str:
        return f"{self.street_name}, {self.postcode} {self.postcode_name}"


class AddressStreetName(models.Model):
    """DAWA's vejstykke: the name of a street code in a municipality. Replication events of
    access addresses carry codes only; their street name is looked up here."""

    municipality_code = models.CharField(_("municipality code"), max_length=4)
    street_code = models.CharField(_("street code"), max_length=4)
    name = models.CharField(_("name"), max_length=80)

    class Meta:
        verbose_name = _("street name")
        verbose_name_plural = _("street names")
        constraints = [
            models.UniqueConstraint(
                fields=["municipality_code", "street_code"], name="address_street_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AddressPostcodeName(models.Model):
    """DAWA's postnummer: the name of a postcode, for events that carry the number only."""

    number = models.CharField(_("postcode"), max_length=4, primary_key=True)
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        verbose_name = _("postcode name")
        verbose_name_plural = _("postcode names")

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class AddressReplicationCursor(models.Model):
    """The last DAWA replication event applied per entity (adgangsadresse, vejstykke,
    postnummer): events at or below it are skipped, so a file applied twice changes nothing."""

    entity = models.CharField(_("entity"), max_length=40, primary_key=True)
    sequence_number = models.BigIntegerField(_("sequence number"))
    applied_at = models.DateTimeField(_("applied"), auto_now=True)

    class Meta:
        verbose_name = _("address replication cursor")
        verbose_name_plural = _("address replication cursors")

    def __str__(self) -> str:
        return f"{self.entity} @ {self.sequence_number}"
