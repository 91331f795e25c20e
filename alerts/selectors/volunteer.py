"""A volunteer's own alerts, as the volunteers' app reads them."""

from django.db.models import QuerySet

from alerts.models import Alert


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
