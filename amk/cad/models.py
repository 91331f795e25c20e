"""The CAD integration's rows: the CAD systems (one per dispatch centre's CAD, with its service
user), their API keys (hashed), the link from a CAD incident number to the incident, and the
callbacks to the CAD (an outbox, sent like alerts: claimed, retried, never lost)."""

import hashlib
import uuid

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class CadSystem(models.Model):
    """One CAD system of a dispatch centre (AMK). Its actions on incidents are made as its
    service user (``user``, no password: it cannot log in), so the incident's ``created_by``
    and the timeline's actor name the system."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    region = models.ForeignKey(
        "amk.Region",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("dispatch centre's region"),
        help_text=_("The AMK this CAD belongs to: it may create incidents in this region only."),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="cad_system",
        verbose_name=_("service user"),
        editable=False,
    )
    is_active = models.BooleanField(_("active"), default=True)
    callback_url = models.URLField(
        _("callback URL"),
        blank=True,
        help_text=_("Where state changes are sent (signed POST). Empty: no callbacks."),
    )
    callback_secret = models.CharField(_("callback signing secret"), max_length=100, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("CAD system")
        verbose_name_plural = _("CAD systems")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


KEY_PREFIX = "hja"  # every key reads "hja_<prefix>_<secret>"


def key_hash(raw_key: str) -> str:
    """What is kept of a key: its SHA-256 (the key is 32 random bytes, so no slow hash)."""
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


class CadApiKey(models.Model):
    """An API key of a CAD system. Only a hash is kept; the key is shown once when issued.
    A system may hold several live keys, so a key is rotated without downtime: issue the new
    one, switch the CAD over, revoke the old one."""

    system = models.ForeignKey(
        CadSystem, on_delete=models.CASCADE, related_name="keys", verbose_name=_("CAD system")
    )
    name = models.CharField(_("name"), max_length=100)
    # The key's public part, to find the row without scanning: "hja_<prefix>_<secret>".
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key hash (SHA-256)"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("CAD API key")
        verbose_name_plural = _("CAD API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.system}: {self.name} (hja_{self.prefix}_…)"


class CadIncident(models.Model):
    """A CAD's incident number and the incident it created: one per (system, number), so a
    repeated create finds its incident. The location and address the incident was created
    with are kept to tell a repeat from a conflicting one."""

    system = models.ForeignKey(
        CadSystem, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("CAD system")
    )
    cad_number = models.CharField(_("CAD incident number"), max_length=64)
    incident = models.OneToOneField(
        "amk.Incident", on_delete=models.CASCADE, related_name="cad", verbose_name=_("incident")
    )
    created_location = models.PointField(geography=True, srid=4326)
    created_address = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("CAD incident")
        verbose_name_plural = _("CAD incidents")
        constraints = [
            models.UniqueConstraint(fields=["system", "cad_number"], name="cad_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.system} {self.cad_number}"


class CadCallback(models.Model):
    """One callback to the CAD: a timeline entry of one of its incidents. The row is the
    outbox (written in the transaction of the change); ``event_id`` goes in the body so the
    CAD can drop a resend after an outcome we could not see."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    system = models.ForeignKey(CadSystem, on_delete=models.CASCADE, related_name="callbacks")
    incident = models.ForeignKey("amk.Incident", on_delete=models.CASCADE, related_name="+")
    incident_event = models.OneToOneField(
        "amk.IncidentEvent", on_delete=models.CASCADE, related_name="+"
    )
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    # The columns alerts' claim UPDATE uses (alerts.services.sending.claim_update_sql).
    outcome_unknown_since = models.DateTimeField(null=True, blank=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("CAD callback")
        verbose_name_plural = _("CAD callbacks")
        ordering = ["pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="cad_callback_unfinished_idx",
                condition=models.Q(state__in=["pending", "sending"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.state})"
