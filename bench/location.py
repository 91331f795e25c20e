"""3. Location updates through gunicorn under wrk, against a minimal authenticated view."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time

from bench.common import OUT, ROOT, log

LUA = ROOT / "bench" / "location.lua"
# Distinct volunteers, each with a token of their own, sending in turn: at the capacity the
# machine reaches (about 2,500 req/s) each reports every 8 s, clear of the server's per-volunteer
# limit of one position every LOCATION_MIN_INTERVAL_S (2 s) also when a run bursts.
VOLUNTEERS = 20_000


def tokens_create(count: int = VOLUNTEERS) -> str:
    """One knox token for each of ``count`` synthetic app volunteers; writes the wrk input file."""
    from django.db import connection
    from django.utils import timezone
    from knox.models import AuthToken, get_digest_token
    from knox.settings import CONSTANTS, knox_settings

    from config.geography import within_denmark

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v.user_id, ST_Y(v.location::geometry), ST_X(v.location::geometry) "
            "FROM volunteers_volunteer v WHERE synthetic AND is_heart_runner "
            "AND location IS NOT NULL ORDER BY v.id LIMIT %s",
            [count + 200],
        )
        candidates = cursor.fetchall()
    # Only people whose position the endpoint accepts: a few synthetic volunteers live just
    # offshore (outside config.geography.within_denmark), and the jitter below can move a coastal
    # one into the sea. Either is a 400 for every request from that volunteer: they were the
    # 13 non-2xx answers of an earlier run.
    rng = random.Random(5)
    people = []
    for user_id, lat, lon in candidates:
        moved = lat + rng.uniform(-1e-3, 1e-3)
        if within_denmark(lon=lon, lat=moved):
            people.append((user_id, moved, lon))
        if len(people) == count:
            break
    AuthToken.objects.filter(user_id__in=[p[0] for p in people]).delete()
    expiry = timezone.now() + knox_settings.TOKEN_TTL
    rows, lines = [], []
    for user_id, lat, lon in people:
        digest, token = get_digest_token()
        rows.append(
            AuthToken(
                digest=digest,
                token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH],
                user_id=user_id,
                expiry=expiry,
            )
        )
        lines.append(f"{token} {lat:.6f} {lon:.6f}")
    AuthToken.objects.bulk_create(rows, batch_size=2000)
    path = OUT / "tokens.txt"
    path.write_text("\n".join(lines) + "\n")
    log(f"location: {len(lines)} volunteers with their own token")
    return str(path)


def wrk(
    *, url: str, path: str, tokens: str, duration_s: int, connections: int = 64, rate: int = 0
) -> dict:
    """wrk with ``connections`` kept-alive connections: as fast as they are answered, or at
    ``rate`` requests/s in all (see bench/location.lua)."""
    from django.conf import settings

    # Whatever the run before sent is past the server's per-volunteer interval.
    time.sleep(settings.LOCATION_MIN_INTERVAL_S + 0.5)
    threads = 2
    env = os.environ | {
        "BENCH_TOKENS": tokens,
        "BENCH_PATH": path,
        "BENCH_RATE": str(rate),
        "BENCH_THREADS": str(threads),
    }
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration_s}s",
            "--timeout",
            "5s",
            "-s",
            str(LUA),
            url + path,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "errors": errors,
        "error_detail": {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")}
        | {"statuses": raw["statuses"]},
        "duration_s": duration_s,
        "connections": connections,
        "offered_rps": rate or None,
    }
