"""A volunteer's own alerts, and whether the policy in force lets them be alerted, as the
volunteers' app reads them."""

from dataclasses import dataclass

from django.db.models import QuerySet

from alerts.models import Alert
from alerts.selectors.policy import dispatch_policy_current, policy_vetting
from volunteers.models import Volunteer


@dataclass(frozen=True)
class VettingStatus:
    """Why the policy in force keeps a volunteer from alerts (codes of ``Vetting``), if it does,
    with the course age it asks for, to word the reasons."""

    problems: list[str]
    course_within_days: int | None


def volunteer_vetting_status(*, volunteer: Volunteer) -> VettingStatus:
    """The vetting of the policy in force, for this volunteer (for new incidents: a running one
    keeps its own copy of the policy)."""
    policy = dispatch_policy_current()
    return VettingStatus(
        problems=policy_vetting(policy).problems(volunteer),
        course_within_days=policy.require_course_within_days,
    )


def volunteer_alerts(*, volunteer_id: int) -> QuerySet[Alert]:
    """A volunteer's own alerts, newest first, with what the app shows (one query)."""
    return (
        Alert.objects.filter(volunteer_id=volunteer_id)
        .select_related("incident__municipality", "aed")
        .defer("incident__municipality__area", "aed__source_tags")
        .order_by("-created_at", "-pk")
    )


def volunteer_alert(*, alert_id: int, volunteer_id: int) -> Alert | None:
    """One of the volunteer's own alerts, or None (someone else's is indistinguishable)."""
    return volunteer_alerts(volunteer_id=volunteer_id).filter(pk=alert_id).first()
