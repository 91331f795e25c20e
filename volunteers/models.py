"""Volunteers and their 1-1-2 corps areas, devices, one-time codes, consents and debriefs.

Also who the app may alert (`VolunteerQuerySet.dispatchable`) and the partial index that
candidate selection walks for it (`Volunteer.Meta.indexes`).
"""

import datetime as dt

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GistIndex
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

MINIMUM_AGE_YEARS = 18


class AdultBirthdateLimit(models.Func):
    """The latest birth date of someone who is an adult today, evaluated by PostgreSQL.

    "Today" is the date in Denmark, as the sign-up form checks it, not the connection's own
    CURRENT_DATE (UTC's). The constraint and candidate selection both use it.
    """

    template = (
        f"((CURRENT_TIMESTAMP AT TIME ZONE '{settings.TIME_ZONE}')::date"
        f" - INTERVAL '{MINIMUM_AGE_YEARS} years')::date"
    )
    output_field = models.DateField()


class LongNameGistIndex(GistIndex):
    """A GistIndex whose name may be as long as PostgreSQL allows (63 characters).

    Django keeps index names within 30 characters for Oracle; this project runs on PostgreSQL
    only, and the index of candidate selection had its name in the database before Meta knew it.
    """

    max_name_length = 63


class LocalArea(models.Model):
    """One of the 32 local areas of the 1-1-2 førstehjælper corps, each with its own AED(s)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    municipality = models.ForeignKey(
        "amk.Municipality",
        on_delete=models.PROTECT,
        related_name="local_areas",
        verbose_name=_("municipality"),
    )
    area = models.MultiPolygonField(_("area"), srid=4326)
    village_point = models.PointField(_("village point"), geography=True, srid=4326)
    location_is_approximate = models.BooleanField(_("approximate location"), default=False)
    note = models.CharField(_("note"), max_length=255, blank=True)
    local_aeds = models.ManyToManyField(
        "defibrillators.Defibrillator",
        blank=True,
        related_name="local_areas",
        verbose_name=_("the corps' local AEDs"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("local area")
        verbose_name_plural = _("local areas")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# Who the app can alert at all: a hjerteløber, available, with a verified phone and a position.
# Also the condition of the partial index that candidate selection walks (Volunteer.Meta), so
# that a query filtering on it can use that index.
REACHABLE_BY_APP = models.Q(
    ("is_heart_runner", True),
    ("is_available", True),
    ("phone_verified_at__isnull", False),
    ("location__isnull", False),
)


class VolunteerQuerySet(models.QuerySet):
    def dispatchable(
        self, *, fresh_since: dt.datetime, local_time: dt.time, busy: models.QuerySet
    ) -> "VolunteerQuerySet":
        """Who the app pool may alert now: the rules of candidate selection
        (alerts.selectors.selection).

        Selection runs them as a prepared statement on the hot path; here they are in the ORM,
        to be read and reused, and a differential test keeps the two the same. The rules that
        depend on the incident stay with the caller: who was already alerted for it, the corps
        of its area, the radius and the nearest-first order. `fresh_since` and `local_time`
        follow from the dispatch time; adulthood goes by the database's date in Denmark, as in
        the constraint. `busy`: the rows (with a `volunteer`) that keep a volunteer from a new
        incident, as alerts defines them (``Alert.objects.keeping_busy()``: engaged on an open
        incident, or resting after one); this registry knows nothing of alert states.
        """
        return (
            self.filter(REACHABLE_BY_APP)
            .adults()
            .fresh(since=fresh_since)
            .outside_quiet_hours(local_time)
            .not_busy(busy)
        )

    def not_busy(self, busy: models.QuerySet) -> "VolunteerQuerySet":
        """Those with no row in `busy` (rows with a `volunteer`; see dispatchable)."""
        return self.exclude(models.Exists(busy.filter(volunteer=models.OuterRef("pk"))))

    def adults(self) -> "VolunteerQuerySet":
        """Those who are 18 or older today in Denmark (the constraint's own expression)."""
        return self.filter(date_of_birth__lte=AdultBirthdateLimit())

    def fresh(self, *, since: dt.datetime) -> "VolunteerQuerySet":
        """Those with a position measured at `since` or later."""
        return self.filter(location_updated_at__gte=since)

    def outside_quiet_hours(self, local_time: dt.time) -> "VolunteerQuerySet":
        """Those not in their quiet hours at `local_time`; a window may wrap past midnight.

        The start is inclusive and the end exclusive; without both ends there are none.
        """
        Q, end = models.Q, models.F("quiet_hours_end")
        no_window = Q(quiet_hours_start__isnull=True) | Q(quiet_hours_end__isnull=True)
        # 09:00-17:00: before the start, or from the end on.
        outside_day_window = Q(quiet_hours_start__lte=end) & (
            Q(quiet_hours_start__gt=local_time) | Q(quiet_hours_end__lte=local_time)
        )
        # 22:00-07:00: from the end on, and before the start.
        outside_night_window = Q(quiet_hours_start__gt=end) & Q(
            quiet_hours_end__lte=local_time, quiet_hours_start__gt=local_time
        )
        return self.filter(no_window | outside_day_window | outside_night_window)


class Volunteer(models.Model):
    """One person, with the app scheme (hjerteløber) and/or a local corps (førstehjælper)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="volunteer",
        verbose_name=_("user"),
    )
    is_heart_runner = models.BooleanField(
        _("hjerteløber (app scheme)"),
        default=True,
        help_text=_("Alerted by push near their position."),
    )
    local_area = models.ForeignKey(
        LocalArea,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("1-1-2 førstehjælper corps"),
    )
    phone = PhoneNumberField(_("phone"), unique=True)
    phone_verified_at = models.DateTimeField(_("phone verified"), null=True, blank=True)
    date_of_birth = models.DateField(_("date of birth"))
    first_aid_course_on = models.DateField(_("CPR/first-aid course"), null=True, blank=True)
    is_available = models.BooleanField(_("available"), default=True)
    location = models.PointField(
        _("current location"), geography=True, srid=4326, null=True, blank=True
    )
    location_updated_at = models.DateTimeField(_("location measured"), null=True, blank=True)
    location_accuracy_m = models.PositiveIntegerField(
        _("location accuracy (m)"), null=True, blank=True
    )
    # When the server last stored a position: the per-volunteer rate limit of the location
    # endpoint is checked in the same UPDATE (no cache round trip on the hottest request).
    location_received_at = models.DateTimeField(
        _("location received"), null=True, blank=True, editable=False
    )
    synthetic = models.BooleanField(
        _("synthetic"), default=False, help_text=_("Generated demo data.")
    )
    quiet_hours_start = models.TimeField(
        _("quiet hours from"),
        null=True,
        blank=True,
        help_text=_("Local time from which the volunteer prefers not to be alerted."),
    )
    quiet_hours_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = VolunteerQuerySet.as_manager()

    class Meta:
        verbose_name = _("volunteer")
        verbose_name_plural = _("volunteers")
        ordering = ["-created_at"]
        # Beyond "view": the admin masks these without them (config.masking).
        permissions = [("view_phone_number", _("Can view volunteers' phone numbers"))]
        permissions += [("view_live_position", _("Can view volunteers' live positions"))]
        indexes = [
            # The app pool of candidate selection (alerts.selectors.selection) walks it nearest
            # first (KNN `<->` on the location) over only the people the app can alert, and skips
            # stale positions inside the index (the second column, by btree_gist).
            LongNameGistIndex(
                fields=["location", "location_updated_at"],
                name="volunteer_dispatchable_fresh_loc_idx",
                condition=REACHABLE_BY_APP,
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(date_of_birth__lte=AdultBirthdateLimit()),
                name="volunteer_is_adult",
                violation_error_message=_("Volunteers must be at least 18 years old."),
            ),
            models.CheckConstraint(
                condition=models.Q(phone__regex=r"^\+[1-9][0-9]{6,14}$"),
                name="volunteer_phone_e164",
                violation_error_message=_("The phone number must be in E.164 format."),
            ),
            models.CheckConstraint(
                condition=models.Q(is_heart_runner=True) | models.Q(local_area__isnull=False),
                name="volunteer_has_a_scheme",
                violation_error_message=_(
                    "A volunteer must be a hjerteløber, a corps member, or both."
                ),
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(location__isnull=True, location_updated_at__isnull=True)
                    | models.Q(location__isnull=False, location_updated_at__isnull=False)
                ),
                name="volunteer_location_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_full_name() or f"#{self.pk}"  # never the number: seen in lists


class Device(models.Model):
    """A phone with the app installed; its push token reaches the volunteer. One install's token
    may be registered by several accounts, one row each (volunteers.services.devices)."""

    class Platform(models.TextChoices):
        ANDROID = "android", "Android"
        IOS = "ios", "iOS"

    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="devices", verbose_name=_("volunteer")
    )
    push_token = models.CharField(_("push token"), max_length=4096, db_index=True)
    auth_token = models.ForeignKey(
        settings.KNOX_TOKEN_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The app session that registered it: logging out silences the device."),
    )
    platform = models.CharField(_("platform"), max_length=10, choices=Platform.choices)
    is_active = models.BooleanField(_("active"), default=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["-last_seen_at"]
        permissions = [("view_push_token", _("Can view devices' push tokens"))]
        indexes = [
            models.Index(
                fields=["volunteer"], name="device_active_idx", condition=models.Q(is_active=True)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(platform__in=["android", "ios"]), name="device_platform_valid"
            ),
            models.UniqueConstraint(
                fields=["volunteer", "push_token"], name="device_account_token"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} ({self.volunteer})"


# --- The mobile API: one-time codes, consents and debriefs ---------------------------------------


class PhoneCode(models.Model):
    """A one-time code sent by SMS to sign up or log in; only its keyed hash is stored."""

    phone = models.CharField(_("phone"), max_length=16, db_index=True)
    code_hash = models.CharField(_("code hash"), max_length=64)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"], name="phonecode_expires_idx")]

    def __str__(self) -> str:
        return f"{self.phone} ({self.created_at:%Y-%m-%d %H:%M})"


class CodeSend(models.Model):
    """A login code accepted for sending, counted by the SMS budget (services.code_budget).

    The number is kept only as a keyed digest; rows older than a day are deleted.
    """

    phone_digest = models.CharField(_("phone digest"), max_length=64)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("login code sent")
        verbose_name_plural = _("login codes sent")
        indexes = [models.Index(fields=["phone_digest", "created_at"], name="codesend_phone_idx")]


class Consent(models.Model):
    """A text the volunteer accepted, with its version: the terms, and location processing."""

    class Kind(models.TextChoices):
        TERMS = "terms", _("Terms of the scheme")
        LOCATION = "location", _("Processing of location")

    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="consents", verbose_name=_("volunteer")
    )
    kind = models.CharField(_("text"), max_length=10, choices=Kind.choices)
    version = models.CharField(_("version"), max_length=32)
    accepted_at = models.DateTimeField(_("accepted"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["volunteer", "kind", "-accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["volunteer", "kind", "version"], name="consent_once_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.version}"


class Debrief(models.Model):
    """How an alert went, from the volunteer; wants_call asks a professional to call them."""

    class Outcome(models.TextChoices):
        FINE = "fine", _("It went fine")
        MIXED = "mixed", _("Mixed feelings")
        HARD = "hard", _("It was hard")

    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="debriefs", verbose_name=_("volunteer")
    )
    alert = models.ForeignKey(
        "alerts.Alert", on_delete=models.CASCADE, related_name="debriefs", verbose_name=_("alert")
    )
    outcome = models.CharField(_("how it went"), max_length=5, choices=Outcome.choices)
    comment = models.TextField(_("comment"), blank=True, max_length=2000)
    wants_call = models.BooleanField(_("wants a follow-up call"), default=False)
    handled = models.BooleanField(_("handled"), default=False)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("debrief")
        verbose_name_plural = _("debriefs")
        ordering = ["handled", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["volunteer", "alert"], name="debrief_one_per_alert"),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="debrief_call_pending_idx",
                condition=models.Q(wants_call=True, handled=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.volunteer})"
