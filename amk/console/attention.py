"""Why an open incident needs the dispatcher now: one set of rules for the board's warnings and
for the order and tags of the incident list, so both say the same thing with the same numbers.

Reasons, most urgent first: short of the target after the escalation time, volunteers no
channel reached (while still short of the target), not dispatched (pending too long).
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from alerts.models import DispatchPolicy
from amk.models.incident import Incident

# A dispatched incident still pending after this long means the queue or worker is stuck.
DISPATCH_STUCK_AFTER = dt.timedelta(seconds=15)


@dataclass(frozen=True)
class Attention:
    code: str  # "short_of_target", "failed" or "not_dispatched"
    rank: int  # 0 first
    tag: str  # a few words for the list
    text: str  # the board's warning, with the numbers


def duration_text(seconds: float) -> str:
    """A compact duration: "45 s", "1 min 30 s", "2 h 05 min"."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    if seconds < 3600:
        return _("%(m)d min %(s)02d s") % {"m": seconds // 60, "s": seconds % 60}
    return _("%(h)d h %(m)02d min") % {"h": seconds // 3600, "m": seconds % 3600 // 60}


def _short_of_target(counts: dict[str, int], target: int, age: str) -> Attention:
    accepted, alerted = counts["accepted"], counts["alerted"]
    if not alerted:
        text = _("Nobody could be alerted after %(age)s (target: %(target)d accepted).")
    elif not accepted:
        text = ngettext(
            "Nobody has accepted of the %(alerted)d volunteer alerted after %(age)s "
            "(target: %(target)d).",
            "Nobody has accepted of the %(alerted)d volunteers alerted after %(age)s "
            "(target: %(target)d).",
            alerted,
        )
    else:
        text = ngettext(
            "Only %(accepted)d of the %(alerted)d volunteer alerted has accepted after "
            "%(age)s (target: %(target)d).",
            "Only %(accepted)d of the %(alerted)d volunteers alerted have accepted after "
            "%(age)s (target: %(target)d).",
            alerted,
        )
    values = {"accepted": accepted, "alerted": alerted, "target": target, "age": age}
    return Attention(
        code="short_of_target",
        rank=0,
        tag=_("%(accepted)d of target %(target)d accepted") % values,
        text=text % values,
    )


def incident_attention(
    incident: Incident,
    *,
    counts: dict[str, Any],
    policy: DispatchPolicy,
    now: dt.datetime,
) -> list[Attention]:
    """What needs the dispatcher on this incident now, most urgent first; nothing once it has
    ended or when volunteers were deliberately not activated. ``counts`` are the incident's
    alert counts (alerts.selectors.incident.ALERT_COUNTS)."""
    if not incident.is_open or incident.exclusion_reasons:
        return []
    age_s = (now - incident.created_at).total_seconds()
    if incident.state == Incident.State.PENDING_DISPATCH:
        if age_s <= DISPATCH_STUCK_AFTER.total_seconds():
            return []
        return [
            Attention(
                code="not_dispatched",
                rank=2,
                tag=_("Not dispatched"),
                text=_("Not dispatched after %(age)s: check the dispatch worker.")
                % {"age": duration_text(age_s)},
            )
        ]
    reasons = []
    short = counts["accepted"] < policy.target_accepted
    if short and age_s >= policy.escalate_after_s:
        reasons.append(_short_of_target(counts, policy.target_accepted, duration_text(age_s)))
    if short and counts["failed"]:
        values = {"n": counts["failed"]}
        reasons.append(
            Attention(
                code="failed",
                rank=1,
                tag=ngettext("%(n)d not reached", "%(n)d not reached", counts["failed"]) % values,
                text=ngettext(
                    "%(n)d volunteer could not be reached: every channel failed.",
                    "%(n)d volunteers could not be reached: every channel failed.",
                    counts["failed"],
                )
                % values,
            )
        )
    return reasons
