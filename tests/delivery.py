"""Sending one delivery in a test, as a task given a single id does."""

from alerts.services.deliveries import deliveries_send


def delivery_send(*, delivery_id: int) -> int | None:
    """Send one delivery once: the seconds until its retry is due, or None when done."""
    return deliveries_send(delivery_ids=[delivery_id]).get(delivery_id)
