"""Who may be alerted: the rules of candidate selection in the ORM (`VolunteerQuerySet`), the
vetting a dispatch policy may ask for (`Vetting`), and the condition of the partial index that
selection walks (`REACHABLE_BY_APP`, declared in `Volunteer.Meta.indexes`).
"""

import dataclasses
import datetime as dt

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GistIndex

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


@dataclasses.dataclass(frozen=True)
class Vetting:
    """What a volunteer must have passed to be alerted at all, as the dispatch policy sets it
    (alerts builds it from the policy: ``alerts.selectors.policy.policy_vetting``).

    ``require_approval``: an administrator approved the person (``approved_at``).
    ``course_since``: the first-aid course was taken on this date or later (None: no course
    needed). ``max_location_jumps``: fewer implausible position jumps than this were flagged
    (None: the flags never exclude). The defaults ask for nothing.
    """

    require_approval: bool = False
    course_since: dt.date | None = None
    max_location_jumps: int | None = None

    # The reasons a volunteer fails it, as codes (the app words them: volunteers.apis.profile).
    NOT_APPROVED = "not_approved"
    NO_COURSE = "no_course"
    COURSE_EXPIRED = "course_expired"
    LOCATION_JUMPS = "location_jumps"

    def q(self) -> models.Q:
        """The condition in the ORM (candidate selection states it in SQL, the same way)."""
        condition = models.Q()
        if self.require_approval:
            condition &= models.Q(approved_at__isnull=False)
        if self.course_since is not None:
            condition &= models.Q(first_aid_course_on__gte=self.course_since)
        if self.max_location_jumps is not None:
            condition &= models.Q(location_jumps__lt=self.max_location_jumps)
        return condition

    def problems(self, volunteer) -> list[str]:
        """Why this volunteer fails the vetting (codes, in a fixed order); empty if they pass."""
        found = []
        if self.require_approval and volunteer.approved_at is None:
            found.append(self.NOT_APPROVED)
        if self.course_since is not None:
            if volunteer.first_aid_course_on is None:
                found.append(self.NO_COURSE)
            elif volunteer.first_aid_course_on < self.course_since:
                found.append(self.COURSE_EXPIRED)
        if self.max_location_jumps is not None and (
            volunteer.location_jumps >= self.max_location_jumps
        ):
            found.append(self.LOCATION_JUMPS)
        return found


# Who the app can alert at all: a hjerteløber, available, with a verified phone and a position.
# Also the condition of the partial index that candidate selection walks (Volunteer.Meta), so
# that a query filtering on it can use that index. The vetting is not in it: the policy says
# what it asks, so selection checks it on the rows the index walk reaches (a column each).
REACHABLE_BY_APP = models.Q(
    ("is_heart_runner", True),
    ("is_available", True),
    ("phone_verified_at__isnull", False),
    ("location__isnull", False),
)


class VolunteerQuerySet(models.QuerySet):
    def dispatchable(
        self,
        *,
        fresh_since: dt.datetime,
        local_time: dt.time,
        busy: models.QuerySet,
        vetting: Vetting = Vetting(),
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
        `vetting`: what the policy asks of everyone alerted (approval, course, position flags).
        """
        return (
            self.filter(REACHABLE_BY_APP)
            .vetted(vetting)
            .adults()
            .fresh(since=fresh_since)
            .outside_quiet_hours(local_time)
            .not_busy(busy)
        )

    def vetted(self, vetting: Vetting) -> "VolunteerQuerySet":
        """Those who pass the policy's vetting (both pools: the corps as well as the app's)."""
        return self.filter(vetting.q())

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
