"""The CAD integration's receivers: every new timeline entry of a CAD's incident becomes a
callback row in the same transaction (amk.cad.services.callbacks). Connected in
CadConfig.ready().

Entries saved in bulk (alerts sent, releases and stand-downs of a batch, expiries) send no
post_save and make no callback of their own; the counts in the next callback's state carry
them.
"""

import threading
import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from amk.cad.models import CadSystem
from amk.cad.selectors import callbacks_configured
from amk.cad.services.callbacks import CALLBACK_KINDS, callback_record
from amk.models.incident import IncidentEvent

# Whether any CAD takes callbacks, re-read at most every few seconds per process, so the
# timeline's hot paths (answers, waves) pay no query while no CAD does. Saving a system in
# this process re-reads it at once; other processes follow within the TTL.
_TTL_S = 10.0
_cache = {"until": 0.0, "value": False}
_lock = threading.Lock()


def callbacks_wanted_reset() -> None:
    with _lock:
        _cache["until"] = 0.0


def _callbacks_wanted() -> bool:
    now = time.monotonic()
    with _lock:
        if now < _cache["until"]:
            return bool(_cache["value"])
    value = callbacks_configured()
    with _lock:
        _cache.update(value=value, until=now + _TTL_S)
    return value


@receiver(post_save, sender=IncidentEvent, dispatch_uid="cad_callback_record")
def _incident_event_saved(sender, instance: IncidentEvent, created: bool, **kwargs) -> None:
    if created and instance.kind in CALLBACK_KINDS and _callbacks_wanted():
        callback_record(event=instance)


@receiver(post_save, sender=CadSystem, dispatch_uid="cad_system_saved")
@receiver(post_delete, sender=CadSystem, dispatch_uid="cad_system_deleted")
def _system_changed(sender, **kwargs) -> None:
    callbacks_wanted_reset()
