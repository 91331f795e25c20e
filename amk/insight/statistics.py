"""Activation statistics: per period, dispatch centre, dispatcher, municipality or local area,
how many incidents, how many activated volunteers and why not, how fast the first alert went
out and the first volunteer accepted, and whether a volunteer or an AED got there before EMS.

One SQL statement per table (GROUP BY with FILTER and percentile_cont), never a loop over
incidents in Python. Definitions:
- activated: at least one volunteer alerted (an Alert row);
- not activated because: the dispatcher's exclusion reasons (Incident.exclusion_reasons), or,
  without one, "no volunteer in range" (the dispatch ran and found nobody) or "ended before
  dispatch" (cancelled or closed before the first wave);
- time to the first alert: from the incident's creation to the first alert handed to a
  provider (the first AlertDelivery of kind alert with ``sent_at``);
- acceptance rate: alerts accepted at some point (their "accepted" timeline entry) per alert;
  time to first acceptance: from the first alert sent to the first acceptance;
- volunteer before EMS: an "on scene" entry of an alert no later than ``ems_arrived_at``; AED
  before EMS: a collected AED (AedUse.collected_at) whose fetcher was on scene by then. Both
  are counted over activated incidents whose EMS arrival was recorded.
"""

import dataclasses
import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from amk.models.incident import Incident

# The groupings offered, with their label; the SQL of each is in _GROUP_SQL.
GROUPINGS: dict[str, str] = {
    "month": gettext_lazy("Month"),
    "week": gettext_lazy("Week"),
    "day": gettext_lazy("Day"),
    "centre": gettext_lazy("Dispatch centre"),
    "dispatcher": gettext_lazy("Dispatcher"),
    "municipality": gettext_lazy("Municipality"),
    "local_area": gettext_lazy("Local area"),
    "total": gettext_lazy("Total"),
}
_GROUP_SQL: dict[str, str] = {
    "month": "to_char(b.created_at AT TIME ZONE %(tz)s, 'YYYY-MM')",
    "week": "to_char(b.created_at AT TIME ZONE %(tz)s, 'IYYY-\"W\"IW')",
    "day": "to_char(b.created_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD')",
    "centre": "b.centre",
    "dispatcher": "b.dispatcher",
    "municipality": "b.municipality_name",
    "local_area": "COALESCE(b.local_area_name, %(no_area)s)",
    "total": "%(total)s",
}
# Why an incident was not activated, beyond the dispatcher's own reasons.
NO_VOLUNTEERS = "no_volunteers"
NOT_DISPATCHED = "not_dispatched"


def reason_labels() -> dict[str, str]:
    """Every reason an incident may not have been activated, in the table's order."""
    labels = {value: str(label) for value, label in Incident.Exclusion.choices}
    labels[NO_VOLUNTEERS] = _("No volunteer in range")
    labels[NOT_DISPATCHED] = _("Ended before dispatch")
    return labels


@dataclasses.dataclass(frozen=True)
class StatisticsFilter:
    """The page's filters; dates are local (Europe/Copenhagen) and inclusive."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    centre: str = ""
    dispatcher_id: int | None = None
    municipality_code: str = ""
    local_area_id: int | None = None


@dataclasses.dataclass(frozen=True)
class StatisticsRow:
    group: str
    group_id: str
    incidents: int
    activated: int
    not_activated: dict[str, int]
    first_alert_median_s: float | None
    first_alert_p90_s: float | None
    alerts: int
    accepted: int
    first_accept_median_s: float | None
    ems_recorded: int
    volunteer_before_ems: int
    aed_before_ems: int

    @property
    def activated_share(self) -> float | None:
        return _share(self.activated, self.incidents)

    @property
    def acceptance_rate(self) -> float | None:
        return _share(self.accepted, self.alerts)

    @property
    def volunteer_before_ems_share(self) -> float | None:
        return _share(self.volunteer_before_ems, self.ems_recorded)

    @property
    def aed_before_ems_share(self) -> float | None:
        return _share(self.aed_before_ems, self.ems_recorded)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _where(filters: StatisticsFilter, params: dict) -> str:
    clauses = ["TRUE"]
    if filters.date_from:
        params["date_from"] = _local_midnight(filters.date_from)
        clauses.append("i.created_at >= %(date_from)s")
    if filters.date_to:
        params["date_to"] = _local_midnight(filters.date_to + dt.timedelta(days=1))
        clauses.append("i.created_at < %(date_to)s")
    if filters.centre:
        params["centre"] = filters.centre
        clauses.append("COALESCE(NULLIF(i.dispatch_centre, ''), %(centre_default)s) = %(centre)s")
    if filters.dispatcher_id is not None:
        params["dispatcher_id"] = filters.dispatcher_id
        clauses.append("i.created_by_id = %(dispatcher_id)s")
    if filters.municipality_code:
        params["municipality_code"] = filters.municipality_code
        clauses.append("i.municipality_id = %(municipality_code)s")
    if filters.local_area_id is not None:
        params["local_area_id"] = filters.local_area_id
        clauses.append("la.id = %(local_area_id)s")
    return " AND ".join(clauses)


_SQL = """
WITH base AS (
    SELECT i.id, i.created_at, COALESCE(i.called_at, i.created_at) AS started_at,
           i.exclusion_reasons, i.dispatch_wave, i.ems_arrived_at,
           COALESCE(NULLIF(i.dispatch_centre, ''), %(centre_default)s) AS centre,
           i.created_by_id::text AS dispatcher_id, u.username AS dispatcher,
           m.code AS municipality_code, m.name AS municipality_name,
           la.id::text AS local_area_id, la.name AS local_area_name
    FROM amk_incident i
    JOIN amk_municipality m ON m.code = i.municipality_id
    JOIN auth_user u ON u.id = i.created_by_id
    LEFT JOIN LATERAL (
        SELECT a.id, a.name FROM volunteers_localarea a
        WHERE ST_Intersects(a.area, i.location::geometry) ORDER BY a.id LIMIT 1
    ) la ON TRUE
    WHERE {where}
), per AS (
    SELECT b.*, n.alerted, s.first_alert_at, acc.accepted, acc.first_accept_at,
           EXISTS (
               SELECT 1 FROM amk_incidentevent e
               WHERE e.incident_id = b.id AND e.kind = 'alert_on_scene'
                 AND e.created_at <= b.ems_arrived_at
           ) AS volunteer_first,
           EXISTS (
               SELECT 1 FROM alerts_aeduse au
               JOIN alerts_alert a ON a.id = au.alert_id
               JOIN amk_incidentevent e ON e.alert_id = a.id AND e.kind = 'alert_on_scene'
               WHERE a.incident_id = b.id AND au.collected_at IS NOT NULL
                 AND au.collected_at <= b.ems_arrived_at AND e.created_at <= b.ems_arrived_at
           ) AS aed_first
    FROM base b
    LEFT JOIN LATERAL (
        SELECT count(*) AS alerted FROM alerts_alert a WHERE a.incident_id = b.id
    ) n ON TRUE
    LEFT JOIN LATERAL (
        SELECT min(d.sent_at) AS first_alert_at
        FROM alerts_alertdelivery d JOIN alerts_alert a ON a.id = d.alert_id
        WHERE a.incident_id = b.id AND d.kind = 'alert' AND d.sent_at IS NOT NULL
    ) s ON TRUE
    LEFT JOIN LATERAL (
        SELECT count(DISTINCT e.alert_id) AS accepted, min(e.created_at) AS first_accept_at
        FROM amk_incidentevent e
        WHERE e.incident_id = b.id AND e.kind = 'alert_accepted'
    ) acc ON TRUE
)
SELECT {key} AS grp, {key_id} AS grp_id,
       count(*) AS incidents,
       count(*) FILTER (WHERE alerted > 0) AS activated,
       {reasons},
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM first_alert_at - started_at)) AS first_alert_median_s,
       percentile_cont(0.9) WITHIN GROUP (
           ORDER BY extract(epoch FROM first_alert_at - started_at)) AS first_alert_p90_s,
       COALESCE(sum(alerted), 0) AS alerts,
       COALESCE(sum(accepted), 0) AS accepted,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM first_accept_at - first_alert_at)) AS first_accept_median_s,
       count(*) FILTER (WHERE alerted > 0 AND ems_arrived_at IS NOT NULL) AS ems_recorded,
       count(*) FILTER (WHERE alerted > 0 AND volunteer_first) AS volunteer_before_ems,
       count(*) FILTER (WHERE alerted > 0 AND aed_first) AS aed_before_ems
FROM per b
GROUP BY 1, 2
ORDER BY 1
"""
_KEY_ID_SQL = {
    "centre": "b.centre",
    "dispatcher": "b.dispatcher_id",
    "municipality": "b.municipality_code",
    "local_area": "COALESCE(b.local_area_id, '')",
}


def activation_statistics(
    *, filters: StatisticsFilter, group_by: str = "month"
) -> list[StatisticsRow]:
    """The statistics table, one row per group (ordered by the group's label)."""
    if group_by not in _GROUP_SQL:
        raise ValueError(f"unknown grouping {group_by!r}")
    labels = reason_labels()
    params: dict = {
        "centre_default": settings.DISPATCH_CENTRE_DEFAULT,
        "tz": settings.TIME_ZONE,
        "no_area": _("Outside the local areas"),
        "total": _("All"),
    }
    reasons_sql = []
    for i, reason in enumerate(labels):
        if reason == NO_VOLUNTEERS:
            condition = "cardinality(exclusion_reasons) = 0 AND dispatch_wave > 0"
        elif reason == NOT_DISPATCHED:
            condition = "cardinality(exclusion_reasons) = 0 AND dispatch_wave = 0"
        else:
            params[f"reason_{i}"] = reason
            condition = f"%(reason_{i})s = ANY(exclusion_reasons)"
        reasons_sql.append(f"count(*) FILTER (WHERE alerted = 0 AND {condition}) AS reason_{i}")
    key = _GROUP_SQL[group_by]
    sql = _SQL.format(
        where=_where(filters, params),
        key=key,
        key_id=_KEY_ID_SQL.get(group_by, key),
        reasons=",\n       ".join(reasons_sql),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [c.name for c in cursor.description]
        records = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    return [_row(r, list(labels)) for r in records]


def _row(record: dict, reasons: Sequence[str]) -> StatisticsRow:
    return StatisticsRow(
        group=str(record["grp"]),
        group_id=str(record["grp_id"]),
        incidents=record["incidents"],
        activated=record["activated"],
        not_activated={r: record[f"reason_{i}"] for i, r in enumerate(reasons)},
        first_alert_median_s=record["first_alert_median_s"],
        first_alert_p90_s=record["first_alert_p90_s"],
        alerts=int(record["alerts"]),
        accepted=int(record["accepted"]),
        first_accept_median_s=record["first_accept_median_s"],
        ems_recorded=record["ems_recorded"],
        volunteer_before_ems=record["volunteer_before_ems"],
        aed_before_ems=record["aed_before_ems"],
    )


def statistics_choices() -> dict[str, list[tuple[str, str]]]:
    """The filters' options: centres, dispatchers who created incidents, municipalities and
    local areas with incidents."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT COALESCE(NULLIF(dispatch_centre, ''), %s) FROM amk_incident "
            "ORDER BY 1",
            [settings.DISPATCH_CENTRE_DEFAULT],
        )
        centres = [(r[0], r[0]) for r in cursor.fetchall()]
        cursor.execute(
            "SELECT u.id::text, u.username FROM auth_user u WHERE EXISTS "
            "(SELECT 1 FROM amk_incident i WHERE i.created_by_id = u.id) ORDER BY 2"
        )
        dispatchers = [(r[0], r[1]) for r in cursor.fetchall()]
        cursor.execute(
            "SELECT m.code, m.name FROM amk_municipality m WHERE m.region_id = %s ORDER BY 2",
            [settings.SERVICE_REGION_CODE],
        )
        municipalities = [(r[0], r[1]) for r in cursor.fetchall()]
        cursor.execute("SELECT id::text, name FROM volunteers_localarea ORDER BY 2")
        local_areas = [(r[0], r[1]) for r in cursor.fetchall()]
    return {
        "centre": centres,
        "dispatcher": dispatchers,
        "municipality": municipalities,
        "local_area": local_areas,
    }
