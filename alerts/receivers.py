"""Receivers of the signals sent by the layers below alerts, connected in AlertsConfig.ready()."""

from alerts.services.erasure import volunteer_alert_data_erase


def volunteer_erasing_scrub(
    sender, *, volunteer, phone: str, push_tokens: list[str], **kwargs
) -> None:
    """volunteers.signals.volunteer_erasing: erase the volunteer's traces in the alerts."""
    volunteer_alert_data_erase(volunteer=volunteer, phone=phone, push_tokens=push_tokens)
