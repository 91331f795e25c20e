"""docs/benchmarks.json (the headline figures), docs/benchmarks.md (tables) and the PNG plots."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

from bench.common import ROOT, results_merge
from bench.location import VOLUNTEERS

DOCS = ROOT / "docs"
SIZES = ["10k", "100k", "1m"]


def machine() -> dict:
    from django.db import connection

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")),
        platform.processor(),
    )
    mem_kb = next(int(ln.split()[1]) for ln in meminfo if ln.startswith("MemTotal"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), postgis_lib_version()")
        pg, postgis = cursor.fetchone()
    redis_v = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg.split(" on ")[0],
        "postgis": postgis,
        "redis": redis_v.split()[2] if redis_v else "?",
    }


def _plots(r: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = r["selection"]
    xs = [sel[s]["volunteers"] for s in SIZES]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for key, name, style in (
        ("selection", "dispatch_candidates", "o-"),
        ("baseline", "bare KNN query", "s--"),
    ):
        ax.plot(xs, [sel[s][key]["p50_ms"] for s in SIZES], style, label=f"{name} p50")
        ax.plot(xs, [sel[s][key]["p99_ms"] for s in SIZES], style, alpha=0.5, label=f"{name} p99")
    ax.axhline(5, color="red", lw=0.8, ls=":", label="target p99 5 ms")
    ax.set_xscale("log")
    ax.set_xlabel("volunteers")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Candidate selection latency against size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(DOCS / "bench-selection.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    cap, base = r["location_capacity"], r["location_baseline"]
    ax.barh(
        ["minimal authenticated view", "POST /api/v1/me/location/"],
        [base["rps"], cap["rps"]],
        color=["#999", "#c33"],
    )
    ax.axvline(1500, color="red", lw=0.8, ls=":", label="target 1,500 req/s")
    ax.set_xlabel("capacity, requests/s (64 connections, gunicorn, wrk on the same machine)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(DOCS / "bench-location.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return ["bench-selection.png", "bench-location.png"]


STEP_LABELS = {
    "commit_to_created": "commit → deliveries created (queue hop, selection, inserts)",
    "created_to_handed_over": "created → first hand-over (commit, claim)",
    "handed_over_to_first": "hand-over → first arrival at a fake provider",
    "first_to_nth": "first → {nth}th arrival",
}


def _errors(run: dict) -> str:
    """The error count of a wrk run, with the HTTP statuses behind it (e.g. "3 (429: 3)")."""
    statuses = run["error_detail"].get("statuses") or {}
    if not statuses:
        return str(run["errors"])
    return f"{run['errors']} ({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))})"


def _other_tools_figures() -> tuple[dict, dict]:
    """Figures this run does not measure, written by another tool (the policy simulator's
    ``simulate_policies --benchmark``): kept as they are, with their targets."""
    path = DOCS / "benchmarks.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    figures = {k: v for k, v in old.items() if k.startswith("simulation_")}
    targets = {k: v for k, v in old.get("targets_met", {}).items() if k.startswith("simulation")}
    return figures, targets


def write(r: dict) -> None:
    DOCS.mkdir(exist_ok=True)
    kept_figures, kept_targets = _other_tools_figures()
    r["machine"] = machine()
    results_merge("all", r)
    sel = r["selection"]
    figures = {
        "selection_p99_ms": {s: sel[s]["selection"]["p99_ms"] for s in SIZES},
        "selection_baseline_p99_ms": {s: sel[s]["baseline"]["p99_ms"] for s in SIZES},
        "dispatch_p95_ms": r["dispatch"]["p95_ms"],
        "cad_dispatch_p95_ms": r.get("dispatch_cad", {}).get("p95_ms"),
        "location_updates_rps": r["location"]["rps"],
        "location_updates_p99_ms": r["location"]["p99_ms"],
        "location_updates_errors": r["location"]["errors"],
        "location_baseline_rps": r["location_baseline"]["rps"],
        "location_updates_capacity_rps": r["location_capacity"]["rps"],
        "board_queries": r["board"]["queries_50_alerts"],
        "board_p95_ms": r["board"]["p95_ms"],
    }
    growth = sel["1m"]["selection"]["p99_ms"] / sel["10k"]["selection"]["p99_ms"]
    targets = {
        "selection 1M p99 ≤ 5 ms": sel["1m"]["selection"]["p99_ms"] <= 5,
        "selection 1M ≤ 1.5× bare KNN (p99)": sel["1m"]["ratio_p99"] <= 1.5,
        "selection growth 10k→1M ≤ 2× (p99)": growth <= 2,
        "dispatch p95 ≤ 200 ms": r["dispatch"]["p95_ms"] <= 200,
        "CAD create → 20th delivery p95 ≤ 200 ms": r.get("dispatch_cad", {}).get("p95_ms", 1e9)
        <= 200,
        "location ≥ 1,500 req/s": r["location"]["rps"] >= 1500,
        "location p99 ≤ 50 ms": r["location"]["p99_ms"] <= 50,
        "location no errors": r["location"]["errors"] == 0,
        "board ≤ 10 queries, constant": r["board"]["queries_50_alerts"] <= 10
        and r["board"]["queries_50_alerts"] == r["board"]["queries_5_alerts"],
        "board p95 ≤ 50 ms": r["board"]["p95_ms"] <= 50,
    }
    out = {
        **figures,
        **kept_figures,
        "targets_met": targets | kept_targets,
        "selection_growth_p99": round(growth, 2),
        "details": {k: v for k, v in r.items() if k != "selection_explain"},
    }
    (DOCS / "benchmarks.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    plots = _plots(r)
    m = r["machine"]
    d, db = r["dispatch"], r["dispatch_baseline"]
    loc, cap, lb = r["location"], r["location_capacity"], r["location_baseline"]
    b = r["board"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `./scripts/bench.sh` (bench/run.py); the same figures are in "
        "[benchmarks.json](benchmarks.json). Each figure has a baseline measured in the same run.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; {m['os']}; Python "
        f"{m['python']}; {m['postgresql']}, PostGIS {m['postgis']}; Redis {m['redis']}. "
        f"Load generators run on the same machine. Whole run: {r['runtime_s']} s.",
        "",
        "## Targets",
        "",
        "| target | met |",
        "| --- | --- |",
        *[f"| {k} | {'yes' if v else '**no**'} |" for k, v in targets.items()],
        "",
        "## 1. Candidate selection",
        "",
        "`alerts.selectors.selection.dispatch_candidates` for an incident (first wave: corps and "
        "app pool, availability, age, location freshness, quiet hours, already alerted, dedupe), "
        f"{sel['1m']['selection']['n']:,} incidents per size near real places weighted by "
        "population (after a warm-up), timed in Python around the "
        "call (one round trip). Baseline: the bare KNN query "
        "`ORDER BY location <-> point LIMIT 20` on the same table, alternating with it.",
        "",
        "| volunteers | selection p50 | selection p99 | bare KNN p50 | bare KNN p99 | ratio p99 "
        "| candidates |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[
            f"| {sel[s]['volunteers']:,} | {sel[s]['selection']['p50_ms']} ms | "
            f"{sel[s]['selection']['p99_ms']} ms | {sel[s]['baseline']['p50_ms']} ms | "
            f"{sel[s]['baseline']['p99_ms']} ms | {sel[s]['ratio_p99']}× | "
            f"{sel[s]['mean_candidates']} |"
            for s in SIZES
        ],
        "",
        f"Growth 10k → 1M (p99): {growth:.2f}×.",
        "",
        "![selection latency against size](bench-selection.png)",
        "",
        "<details><summary>EXPLAIN (ANALYZE, BUFFERS) at 1M</summary>",
        "",
        "```",
        r["selection_explain"],
        "```",
        "",
        "</details>",
        "",
        "## 2. Dispatch latency",
        "",
        "From the commit of `amk.services.incidents.incident_create` to the "
        f"{d['nth']}th message arriving at the fake Twilio and FCM servers (real `twilio` and "
        "`firebase-admin` clients), through "
        f"Redis and a Celery worker (`{d['worker']}`), {d['incidents']} incidents one after "
        f"another at 1M volunteers, half of the app volunteers with a push device; "
        f"{d['mean_deliveries']} deliveries per incident on average.",
        "",
        "| | p50 | p95 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| commit → {d['nth']}th delivery | {d['p50_ms']} ms | {d['p95_ms']} ms | "
        f"{d['p99_ms']} ms | {d['max_ms']} ms |",
        *(
            [
                f"| CAD API request (`POST /api/cad/v1/incidents/`, in-process) → {d['nth']}th "
                f"delivery | {dc['p50_ms']} ms | {dc['p95_ms']} ms | {dc['p99_ms']} ms | "
                f"{dc['max_ms']} ms |"
            ]
            if (dc := r.get("dispatch_cad"))
            else []
        ),
        f"| baseline: {d['nth']} sends in a row from one process, no queue | {db['p50_ms']} ms | "
        f"{db['p95_ms']} ms | {db['p99_ms']} ms | {db['max_ms']} ms |",
        "",
        "Where the time goes, each step on its own (from the rows' timestamps; the percentiles "
        "of the steps do not add up to those of the whole):",
        "",
        "| step | p50 | p95 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {STEP_LABELS[name].format(nth=d['nth'])} | {x['p50_ms']} ms | "
            f"{x['p95_ms']} ms | {x['p99_ms']} ms | {x['max_ms']} ms |"
            for name, x in d.get("steps", {}).items()
        ),
        "",
        f"Incidents with fewer than {d['nth']} deliveries (not counted): {d['fewer_than_nth']}.",
        "",
        "## 3. Location updates",
        "",
        f"`POST /api/v1/me/location/` with {VOLUNTEERS:,} volunteers' own tokens, through gunicorn "
        f"(`config/gunicorn.py`: {r['gunicorn']}), wrk with {loc['connections']} connections "
        "(`bench/location.lua`) on the same machine. Baseline: a minimal authenticated DRF view "
        "(`bench/urls.py`, same token authentication and settings) on the same server. "
        "*Capacity*: each connection sends its next request as soon as the last is answered. "
        f"*At {loc['offered_rps']:,} req/s*: the requests are sent on a fixed schedule at that "
        "rate (the target load), for the latency and errors under it; a server that cannot keep "
        "up shows a lower rate.",
        "",
        "| | load | duration | requests/s | p50 | p99 | max | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {name} | {load} | {x['duration_s']} s | {x['rps']} | {x['p50_ms']} ms | "
            f"{x['p99_ms']} ms | {x['max_ms']} ms | {_errors(x)} |"
            for name, load, x in (
                ("location update", f"{loc['offered_rps']:,} req/s", loc),
                ("location update", "capacity", cap),
                ("baseline view", "capacity", lb),
            )
        ),
        "",
        "![location updates](bench-location.png)",
        "",
        "## 4. Console board",
        "",
        "`/console/incidents/<id>/board.json` for an incident with 50 alerts (two deliveries "
        f"each), as a logged-in dispatcher, through {b.get('via', 'in-process client')} "
        "(one kept-alive connection, one request at a time; queries counted in-process). "
        "Baseline: `/bench/pong/` (an empty view behind the same session and middleware), "
        "the same way.",
        "",
        "| | queries (5 alerts) | queries (50 alerts) | p50 | p95 | p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| board.json | {b['queries_5_alerts']} | {b['queries_50_alerts']} | {b['p50_ms']} ms | "
        f"{b['p95_ms']} ms | {b['p99_ms']} ms |",
        f"| /bench/pong/ | | | {b['baseline']['p50_ms']} ms | {b['baseline']['p95_ms']} ms | "
        f"{b['baseline']['p99_ms']} ms |",
        "",
    ]
    notes = ROOT / "bench" / "NOTES.md"
    if notes.is_file():
        lines += [notes.read_text()]
    (DOCS / "benchmarks.md").write_text("\n".join(lines) + "\n")
    del plots
