"""The volunteer's devices: the app's push token registered, replaced (FCM rotates them) and
forgotten.

A push token names one install of the app. Registering a token that another account holds (a
phone handed over without logging out, or a token someone learnt) gives the caller a device of
its own and changes nothing for the other account: its alerts still go to that token. Only the
other account's own app changes that: when it registers again, with any token, its older
devices whose token another account registered since it last did are retired (the install is in
someone else's hands now). So no account can silence another's phone, and a phone that changed
hands stops getting the old account's alerts as soon as that account's app registers anywhere.
alerts.services.sending sends nothing personal to a token held by two accounts.
"""

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from knox.models import AuthToken

from config.exceptions import ApplicationError
from volunteers.models import Device, Volunteer


def _retire_handed_over(*, volunteer: Volunteer, keep: Device) -> None:
    """The volunteer's app registered again: its other devices whose token a different account
    registered after this volunteer last did are no longer its phone."""
    claimed_since = Device.objects.filter(
        push_token=OuterRef("push_token"), last_seen_at__gt=OuterRef("last_seen_at")
    ).exclude(volunteer_id=volunteer.pk)
    Device.objects.filter(volunteer=volunteer, is_active=True).exclude(pk=keep.pk).filter(
        Exists(claimed_since)
    ).update(is_active=False)


def device_register(
    *, volunteer: Volunteer, push_token: str, platform: str, auth_token=None
) -> Device:
    """Register the app's push token for this volunteer; another account's device with the same
    token is left as it is (see the module's docstring)."""
    with transaction.atomic():
        device, _created = Device.objects.update_or_create(
            volunteer=volunteer,
            push_token=push_token,
            defaults={
                "platform": platform,
                "auth_token": auth_token,
                "is_active": True,
                "last_seen_at": timezone.now(),
            },
        )
        _retire_handed_over(volunteer=volunteer, keep=device)
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
        # This volunteer's own stale row with the new token goes; another account's stays.
        Device.objects.filter(volunteer=volunteer, push_token=push_token).exclude(
            pk=device.pk
        ).delete()
        device.push_token = push_token
        if platform:
            device.platform = platform
        device.is_active = True
        device.last_seen_at = timezone.now()
        device.save(update_fields=["push_token", "platform", "is_active", "last_seen_at"])
        _retire_handed_over(volunteer=volunteer, keep=device)
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
