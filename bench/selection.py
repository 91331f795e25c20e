"""1. Candidate selection: alerts.selectors.selection.dispatch_candidates against bare KNN."""

from __future__ import annotations

import random
import time

from bench.common import log, summary_ms

# The baseline: the bare nearest-neighbour query on the same table, no rule at all.
BARE_KNN_SQL = """
    SELECT v.id FROM volunteers_volunteer v
    ORDER BY v.location <-> %(point)s::geography
    LIMIT %(limit)s
"""


# 2,000 calls, so a p99 is not a few scheduler hiccups of a sub-millisecond query
# (docs/benchmarks.md).
def measure(*, label: str, iterations: int = 2000, warmup: int = 100) -> dict:
    from django.db import connection

    from alerts.selectors.policy import dispatch_policy_current
    from alerts.selectors.selection import dispatch_candidates
    from bench.common import incident_points
    from volunteers.models import Volunteer

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE volunteers_volunteer")  # as autovacuum would
    policy = dispatch_policy_current()
    points = incident_points(iterations + warmup, seed=11)
    rng = random.Random(3)
    selection, baseline, found = [], [], []

    def run_selection(point) -> tuple[float, int]:
        started = time.perf_counter()
        candidates = dispatch_candidates(
            incident_id=-1,  # no incident: nobody is alerted yet, as in a first wave
            point=point,
            policy=policy,
            radius_m=policy.radius_m,
            include_corps=True,
        )
        return time.perf_counter() - started, len(candidates)

    def run_baseline(point) -> float:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                BARE_KNN_SQL, {"point": point.ewkt, "limit": policy.app_volunteers_per_wave}
            )
            cursor.fetchall()
        return time.perf_counter() - started

    for i, point in enumerate(points):
        # Alternate the order so neither side always runs with a warmer cache.
        if rng.random() < 0.5:
            s, n = run_selection(point)
            b = run_baseline(point)
        else:
            b = run_baseline(point)
            s, n = run_selection(point)
        if i >= warmup:
            selection.append(s)
            baseline.append(b)
            found.append(n)
    volunteers = Volunteer.objects.count()
    result = {
        "volunteers": volunteers,
        "selection": summary_ms(selection),
        "baseline": summary_ms(baseline),
        "mean_candidates": round(sum(found) / len(found), 1),
    }
    result["ratio_p99"] = round(result["selection"]["p99_ms"] / result["baseline"]["p99_ms"], 2)
    log(
        f"selection {label} ({volunteers} volunteers): p50 {result['selection']['p50_ms']} ms, "
        f"p99 {result['selection']['p99_ms']} ms; bare KNN p99 {result['baseline']['p99_ms']} "
        f"ms; ratio {result['ratio_p99']}; {result['mean_candidates']} candidates on average"
    )
    return result


def explain(point=None) -> str:
    """EXPLAIN ANALYZE of the selection query for one incident (for the report).

    The plan shown is the generic one the prepared statement runs, and its planning time is
    what a call spends planning (none, once the plan is cached on the connection).
    """
    from django.db import connection
    from django.utils import timezone

    from alerts.selectors.policy import dispatch_policy_current
    from alerts.selectors.selection import (
        _GENERIC_PLAN,
        _candidates_params,
        _candidates_statement,
    )
    from bench.common import incident_points

    policy = dispatch_policy_current()
    point = point or incident_points(1, seed=5)[0]
    params = _candidates_params(
        incident_id=-1,
        point=point,
        policy=policy,
        radius_m=policy.radius_m,
        include_corps=True,
        now=timezone.now(),
    )
    with connection.cursor() as cursor:
        _candidates_statement(policy.app_volunteers_per_wave).execute(
            cursor, params, prefix=_GENERIC_PLAN + "EXPLAIN (ANALYZE, BUFFERS, SUMMARY) "
        )
        return "\n".join(row[0] for row in cursor.fetchall())
