"""Shared helpers: Django set-up, percentiles, points spread by population, results file."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
RESULTS = OUT / "results.json"


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else None,
    }


def incident_points(count: int, seed: int = 7):
    """Points near real places, municipalities drawn in proportion to population."""
    from django.conf import settings
    from django.contrib.gis.geos import Point

    from amk.selectors.territory import service_region_anchor_sampler

    sampler = service_region_anchor_sampler(population_csv=settings.REFERENCE_DATA_DIR / "BY3.csv")
    rng = random.Random(seed)
    points = []
    for _ in range(count):
        anchor = sampler.draw(rng)
        # Within about a kilometre of the place (1 km ≈ 0.009° latitude, 0.016° longitude here).
        points.append(
            Point(
                anchor.lon + rng.uniform(-0.016, 0.016),
                anchor.lat + rng.uniform(-0.009, 0.009),
                srid=4326,
            )
        )
    return points


def results_load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def results_merge(section: str, value) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results = results_load()
    results[section] = value
    RESULTS.write_text(json.dumps(results, indent=2, default=str))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)
