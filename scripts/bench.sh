#!/usr/bin/env bash
# Runs the benchmark suite (bench/) at national scale and writes docs/benchmarks.md,
# docs/benchmarks.json and docs/bench-*.png. Uses its own database (hjertealarm_bench, created
# afresh each run unless BENCH_KEEP_DB=1) and its own Redis database (/9); never the demo's.
# `./scripts/bench.sh --only dispatch,location` runs some sections against the data already
# there (see bench/run.py) and writes nothing to docs/, except `--only address`, which makes
# its own 1.1M synthetic addresses and merges its figures into docs/benchmarks.{json,md}.
[ $# -gt 0 ] && BENCH_KEEP_DB=1
export HJERTEALARM_DB_NAME="${BENCH_DB_NAME:-hjertealarm_bench}"
LOCK_FILE=requirements/bench.txt  # the dev lock plus the bench extra (matplotlib), with hashes
source "$(dirname "$0")/lib.sh"
export APP_MODE=demo DEBUG=false
export REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/9}"
if [ -z "${DATABASE_URL:-}" ] && [ -z "${BENCH_KEEP_DB:-}" ]; then
  ensure_python; ensure_postgis  # creates the role; the database is dropped and created again below
  pg_psql -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)"
  pg_psql -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
fi
setup_all
apt_install wrk
PY="$VENV/bin/python"
log "Preparing the benchmark database $DB_NAME"
"$PY" manage.py migrate --no-input -v 0
"$PY" manage.py load_geography -v 0 >/dev/null
"$PY" manage.py load_local_areas -v 0 >/dev/null
log "Running the benchmarks (about 10 minutes)"
exec "$PY" -m bench.run "$@"
