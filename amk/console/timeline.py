"""The board's timeline: the incident's events, newest first, with bulk alert events grouped.

Alert events that come in bulk become one line per kind ("20 alerts sent, wave 1", "3
declined") between two other events; acceptances, progress and everything else stay one line
each. Lines about a volunteer name them: the first name of those who accepted, "Volunteer
#id" for everyone else (the least data the dispatcher needs). Acceptances are marked to
stand out.
"""

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext

from amk.models.incident import IncidentEvent

Kind = IncidentEvent.Kind

# Alert events that come in bulk (a wave, a release, a stand-down): grouped when consecutive.
GROUPED = {
    Kind.ALERT_SENT: lambda n: ngettext(
        "%(n)d alert sent, wave %(wave)s", "%(n)d alerts sent, wave %(wave)s", n
    ),
    Kind.ALERT_DELIVERED: lambda n: ngettext("%(n)d delivered", "%(n)d delivered", n),
    Kind.ALERT_DECLINED: lambda n: ngettext("%(n)d declined", "%(n)d declined", n),
    Kind.ALERT_RELEASED: lambda n: ngettext("%(n)d released", "%(n)d released", n),
    Kind.ALERT_CANCELLED: lambda n: ngettext("%(n)d stood down", "%(n)d stood down", n),
    Kind.ALERT_EXPIRED: lambda n: ngettext("%(n)d expired", "%(n)d expired", n),
    Kind.ALERT_FAILED: lambda n: ngettext("%(n)d not reached", "%(n)d not reached", n),
}
HIGHLIGHTED = {Kind.ALERT_ACCEPTED}
# Where a dispatcher's action came from, shown beside its actor (amk/cad: the CAD's service
# user is named after the CAD system).
ORIGIN_LABELS = {
    IncidentEvent.Origin.CAD: _lazy("via CAD"),
    IncidentEvent.Origin.CONSOLE: _lazy("via console"),
}
# How many of a group's volunteers the line names; the rest are counted.
MEMBERS_SHOWN = 5


def _local_time(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M:%S")


def _actor(event: dict) -> str:
    """As User.get_full_name() or get_username()."""
    if not event["actor_id"]:
        return ""
    name = f"{event['actor__first_name']} {event['actor__last_name']}".strip()
    return name or event["actor__username"]


def _origin(event: dict) -> str:
    """CAD or console for a dispatcher's action: the actor of any entry not marked as the
    CAD's is a dispatcher at the console (entries older than the mark included)."""
    if event["origin"]:
        return event["origin"]
    return IncidentEvent.Origin.CONSOLE if event["actor_id"] else ""


def volunteer_labels(alerts: list[dict[str, Any]]) -> dict[int, str]:
    """How the board names each alert's volunteer: "Mette (#12)" for one who accepted (the
    board's rows carry a first name for them only), "Volunteer #12" for the others."""
    labels = {}
    for alert in alerts:
        number = alert["volunteer_id"] or "–"
        if alert.get("first_name"):
            labels[alert["id"]] = f"{alert['first_name']} (#{number})"
        else:
            labels[alert["id"]] = _("Volunteer #%(id)s") % {"id": number}
    return labels


def _line(events: list[dict], *, labels: dict[int, str], waves: dict[int, int]) -> dict:
    first, last = events[0], events[-1]
    kind = first["kind"]
    who = [labels.get(e["alert_id"], "") for e in events if e["alert_id"]]
    if kind in GROUPED and len(events) > 1:
        message = GROUPED[kind](len(events)) % {
            "n": len(events),
            "wave": waves.get(first["alert_id"], "–"),
        }
        shown = ", ".join(who[:MEMBERS_SHOWN])
        if len(who) > MEMBERS_SHOWN:
            shown += " " + _("and %(n)d more") % {"n": len(who) - MEMBERS_SHOWN}
    elif kind.startswith("alert_") and first["alert_id"]:
        message = f"{who[0]}: {Kind(kind).label}" if kind in Kind.values else first["message"]
        shown = ""
    else:
        message, shown = first["message"], ""
        if first["alert_id"] in labels:
            # A stored line about one volunteer ("Volunteer #12 fetches AED …"): named as above.
            generic = _("Volunteer #%(id)s") % {"id": first["volunteer_id"] or "–"}
            message = message.replace(generic, labels[first["alert_id"]])
    return {
        "time": last["created_at"].isoformat(),
        "time_local": _local_time(last["created_at"]),
        "first_time_local": _local_time(first["created_at"]) if len(events) > 1 else "",
        "kind": kind,
        "message": message,
        "members": shown,
        "count": len(events),
        "highlight": kind in HIGHLIGHTED,
        "actor": _actor(first),
        "origin": _origin(first),
        "origin_label": str(ORIGIN_LABELS.get(_origin(first), "")),
    }


def _group_key(event: dict, waves: dict[int, int]) -> tuple:
    wave = waves.get(event["alert_id"]) if event["kind"] == Kind.ALERT_SENT else None
    return (event["kind"], wave, event["actor_id"])


def timeline_lines(events: list[dict], *, alerts: list[dict[str, Any]]) -> list[dict]:
    """The timeline's lines, newest first, from the incident's events oldest first (as
    ``IncidentEvent.objects.values(*TIMELINE_FIELDS)``) and the board's alert rows.

    Bulk events between two other events (a run) are grouped by kind (alerts sent also by
    wave) and actor; each group stands where its last event happened.
    """
    labels = volunteer_labels(alerts)
    waves = {a["id"]: a["wave"] for a in alerts}
    volunteers = {a["id"]: a["volunteer_id"] for a in alerts}
    groups: list[list[dict]] = []
    run: dict[tuple, list[dict]] = {}
    for event in events:
        event["volunteer_id"] = volunteers.get(event["alert_id"])
        if event["kind"] in GROUPED:
            key = _group_key(event, waves)
            if key not in run:
                run[key] = []
                groups.append(run[key])
            run[key].append(event)
        else:
            run = {}
            groups.append([event])
    groups.sort(key=lambda group: (group[-1]["created_at"], group[-1]["pk"]))
    return [_line(group, labels=labels, waves=waves) for group in reversed(groups)]


TIMELINE_FIELDS = (
    "pk",
    "created_at",
    "kind",
    "message",
    "alert_id",
    "actor_id",
    "actor__first_name",
    "actor__last_name",
    "actor__username",
    "origin",
)
