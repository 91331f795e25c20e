"""The volunteer's devices: the app's push token registered, replaced (FCM rotates them) and
forgotten."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from knox.models import AuthToken

from config.exceptions import ApplicationError
from volunteers.models import Device, Volunteer


def device_register(
    *, volunteer: Volunteer, push_token: str, platform: str, auth_token=None
) -> Device:
    """Register the app's push token; a token seen before moves to this volunteer (same phone)."""
    with transaction.atomic():
        device, _created = Device.objects.update_or_create(
            push_token=push_token,
            defaults={
                "volunteer": volunteer,
                "platform": platform,
                "auth_token": auth_token,
                "is_active": True,
                "last_seen_at": timezone.now(),
            },
        )
    return device


def device_update(
    *, volunteer: Volunteer, device_id: int, push_token: str, platform: str | None = None
) -> Device:
    """Replace a device's push token (FCM rotates them)."""
    with transaction.atomic():
        device = (
            Device.objects.select_for_update().filter(pk=device_id, volunteer=volunteer).first()
        )
        if device is None:
            raise ApplicationError(_("No such device."), code="not_found")
        # A token another row holds belongs to this phone now: drop the stale row.
        Device.objects.filter(push_token=push_token).exclude(pk=device.pk).delete()
        device.push_token = push_token
        if platform:
            device.platform = platform
        device.is_active = True
        device.last_seen_at = timezone.now()
        device.save(update_fields=["push_token", "platform", "is_active", "last_seen_at"])
    return device


@transaction.atomic
def device_delete(*, volunteer: Volunteer, device_id: int) -> None:
    """Forget a device and revoke the app session that registered it: a phone removed from the
    account (lost, sold) can no longer act for the volunteer."""
    device = Device.objects.select_for_update().filter(pk=device_id, volunteer=volunteer).first()
    if device is None:
        raise ApplicationError(_("No such device."), code="not_found")
    auth_token_id = device.auth_token_id
    device.delete()
    if auth_token_id is not None:
        AuthToken.objects.filter(pk=auth_token_id).delete()
