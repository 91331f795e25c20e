"""CAD systems and their API keys: issued with a random secret shown once, kept as a SHA-256
hash, revoked; the callback signing secret."""

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from amk.cad.models import KEY_PREFIX, CadApiKey, CadSystem, key_hash
from amk.models.territory import Region

# How stale ``last_used_at`` may get: one write a minute per key, not one per request.
LAST_USED_EVERY = dt.timedelta(minutes=1)


@transaction.atomic
def cad_system_save(*, system: CadSystem) -> CadSystem:
    """Save a CAD system; a new one gets its service user (no password, not staff: it can only
    use the API, and names the system on the timeline) and a callback signing secret."""
    if system.pk is None:
        base = f"cad-{slugify(system.name)[:120] or 'system'}"
        username, n = base, 1
        while User.objects.filter(username=username).exists():
            n += 1
            username = f"{base}-{n}"
        user = User(username=username, first_name=system.name[:150])
        user.set_unusable_password()
        user.save()
        system.user = user
        system.callback_secret = secrets.token_urlsafe(32)
    elif system.user.first_name != system.name[:150]:
        system.user.first_name = system.name[:150]
        system.user.save(update_fields=["first_name"])
    system.save()
    return system


def cad_system_create(
    *, name: str, callback_url: str = "", region: Region | None = None
) -> CadSystem:
    """A CAD system of the service region's AMK unless another region is given."""
    region = region or Region.objects.get(pk=settings.SERVICE_REGION_CODE)
    return cad_system_save(system=CadSystem(name=name, region=region, callback_url=callback_url))


def cad_system_callback_secret_rotate(*, system: CadSystem) -> str:
    """A new signing secret for the callbacks (the CAD must be given it)."""
    system.callback_secret = secrets.token_urlsafe(32)
    system.save(update_fields=["callback_secret"])
    return system.callback_secret


def api_key_issue(*, system: CadSystem, name: str) -> tuple[CadApiKey, str]:
    """A new key for the system; returns the row and the key itself, which is not kept."""
    prefix = secrets.token_hex(6)
    raw = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = CadApiKey.objects.create(system=system, name=name, prefix=prefix, key_hash=key_hash(raw))
    return key, raw


def api_key_replace(*, key: CadApiKey) -> tuple[CadApiKey, str]:
    """Rotation: a new key of the same system and name. The old one stays valid until revoked,
    so the CAD switches over without a gap."""
    return api_key_issue(system=key.system, name=key.name)


def api_key_revoke(*, key: CadApiKey) -> None:
    CadApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_touch(*, key: CadApiKey) -> None:
    """Note the key's use, at most once a minute (shown in the admin)."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        CadApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
