"""Callbacks to a CAD on its incidents' state changes, sent as alerts are: an outbox row written
in the transaction of the change (from the timeline entry that records it), queued after the
commit, claimed with a lease by one conditional UPDATE (alerts.services.sending's), retried
with backoff while the CAD fails, found again by the sweep if a queue or a worker is lost.

Every body carries the event's id: a resend after an answer we never saw (a timeout) repeats
it, and the CAD drops what it has already (README, "CAD API")."""

import datetime as dt
import json
import time

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from alerts.services.sending import outbox_claim
from amk.cad.enqueue import callbacks_send_enqueue, callbacks_send_on_commit
from amk.cad.models import CadCallback, CadIncident
from amk.cad.selectors import cad_incident_state, callbacks_due
from amk.cad.signing import EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, callback_signature
from amk.models.incident import IncidentEvent

Kind = IncidentEvent.Kind
# The changes a CAD is told of: the incident's own states and waves, and each responder's
# answer, role and progress. Not the per-message entries (sent, delivered, not reached) nor
# the notes: the body's state carries their counts.
CALLBACK_KINDS = frozenset(
    {
        Kind.CREATED,
        Kind.NOT_ACTIVATED,
        Kind.WAVE,
        Kind.REPLACEMENTS,
        Kind.UPDATED,
        Kind.AED_CLAIMED,
        Kind.ROLE_CHANGED,
        Kind.CANCELLED,
        Kind.CLOSED,
        Kind.AUTO_CLOSED,
        Kind.ALERT_ACCEPTED,
        Kind.ALERT_DECLINED,
        Kind.ALERT_EN_ROUTE,
        Kind.ALERT_AED_COLLECTED,
        Kind.ALERT_ON_SCENE,
        Kind.ALERT_RELEASED,
    }
)
State = CadCallback.State


def callback_lease() -> dt.timedelta:
    """Longer than one POST may last, so a live sender is never doubled."""
    return dt.timedelta(seconds=settings.CAD_CALLBACK_TIMEOUT_S + 5)


def _record(link: CadIncident, events: list[IncidentEvent]) -> list[int]:
    now = timezone.now()
    rows = CadCallback.objects.bulk_create(
        [
            CadCallback(
                system_id=link.system_id,
                incident_id=link.incident_id,
                incident_event=event,
                next_attempt_at=now,
            )
            for event in events
            if event.kind in CALLBACK_KINDS
        ]
    )
    ids = [row.pk for row in rows]
    callbacks_send_on_commit(callback_ids=ids)
    return ids


def callback_record(*, event: IncidentEvent) -> list[int]:
    """The callback of a new timeline entry, if its incident came from a CAD that takes
    callbacks (in the entry's transaction: both or neither)."""
    if event.kind not in CALLBACK_KINDS:
        return []
    link = (
        CadIncident.objects.filter(incident_id=event.incident_id, system__is_active=True)
        .exclude(system__callback_url="")
        .first()
    )
    return _record(link, [event]) if link is not None else []


def callbacks_record_existing(*, link: CadIncident) -> list[int]:
    """The callbacks of the entries written before the incident was linked to its CAD."""
    system = link.system
    if not system.is_active or not system.callback_url:
        return []
    return _record(link, list(IncidentEvent.objects.filter(incident_id=link.incident_id)))


def _claim(callback_ids: list[int]) -> list[CadCallback]:
    claimed = outbox_claim(model=CadCallback, ids=callback_ids, lease=callback_lease())
    return list(
        CadCallback.objects.filter(pk__in=claimed)
        .select_related("system", "incident_event")
        .order_by("pk")
    )


def _body(callback: CadCallback, states: dict[int, dict]) -> bytes:
    if callback.incident_id not in states:
        link = CadIncident.objects.select_related("incident", "incident__municipality").get(
            incident_id=callback.incident_id
        )
        states[callback.incident_id] = cad_incident_state(cad_incident=link)
    event = callback.incident_event
    payload = {
        "event": {
            "id": str(callback.event_id),
            # Increasing with the timeline: callbacks may arrive out of order.
            "sequence": event.pk,
            "kind": event.kind,
            "message": event.message,
            "origin": event.origin,
            "at": event.created_at,
        },
        "incident": states[callback.incident_id],
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode("utf-8")


def _post(session: requests.Session, callback: CadCallback, body: bytes) -> tuple[int | None, str]:
    """POST one callback: (HTTP status or None, error text)."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: callback_signature(
            secret=callback.system.callback_secret, timestamp=timestamp, body=body
        ),
        EVENT_HEADER: str(callback.event_id),
    }
    try:
        response = session.post(
            callback.system.callback_url,
            data=body,
            headers=headers,
            timeout=settings.CAD_CALLBACK_TIMEOUT_S,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def _backoff_s(attempts: int) -> float:
    base, cap = settings.CAD_CALLBACK_BACKOFF_S, settings.CAD_CALLBACK_BACKOFF_MAX_S
    return min(cap, base * 2 ** max(0, attempts - 1))


def callbacks_send(*, callback_ids: list[int]) -> dict[int, float]:
    """Send the callbacks still due, in order; returns {id: seconds until its retry} for those
    that failed and are still worth trying. Each is claimed just before its POST, so a slow CAD
    never keeps a claimed callback past its lease."""
    retries: dict[int, float] = {}
    states: dict[int, dict] = {}
    give_up = dt.timedelta(seconds=settings.CAD_CALLBACK_GIVE_UP_S)
    with requests.Session() as session:
        for callback in (c for pk in sorted(callback_ids) for c in _claim([pk])):
            body = _body(callback, states)
            CadCallback.objects.filter(pk=callback.pk).update(handed_over_at=timezone.now())
            status, error = _post(session, callback, body)
            now = timezone.now()
            mine = CadCallback.objects.filter(pk=callback.pk, state=State.SENDING)
            if not error:
                mine.update(
                    state=State.DELIVERED, delivered_at=now, last_status=status, last_error=""
                )
            elif now - callback.created_at >= give_up:
                mine.update(state=State.FAILED, last_status=status, last_error=error)
            else:
                wait = _backoff_s(callback.attempts)
                mine.update(
                    state=State.PENDING,
                    next_attempt_at=now + dt.timedelta(seconds=wait),
                    last_status=status,
                    last_error=error,
                )
                retries[callback.pk] = wait
    return retries


def callbacks_sweep() -> int:
    """Queue the callbacks left behind; returns how many."""
    due = callbacks_due(now=timezone.now(), lease=callback_lease())
    for start in range(0, len(due), 50):
        callbacks_send_enqueue(callback_ids=due[start : start + 50])
    return len(due)
