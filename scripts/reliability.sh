#!/usr/bin/env bash
# Fault injection, soak and fuzzing (the tests marked slow), then docs/reliability.json.
# Sets up like scripts/test.sh, plus a private Redis (port 6390, stopped and restarted by the
# broker test) and a throwaway PostgreSQL cluster (port 5440, restarted by the database test,
# dropped at the end). Takes about 25 minutes (10 of them the soak); ends by itself.
# RELIABILITY_KILLS (50), RELIABILITY_SOAK_S (600), RELIABILITY_DB_RESTARTS (5) shorten a run.
source "$(dirname "$0")/lib.sh"
export APP_MODE=test
setup_all
apt_install redis-server postgresql-common
REL_REDIS_PORT="${REL_REDIS_PORT:-6390}"
REL_PG_PORT="${REL_PG_PORT:-5440}"
PG_VERSION="$(ls /usr/lib/postgresql | sort -n | tail -1)"
RESULTS="$ROOT/var/reliability"
rm -rf "$RESULTS"; mkdir -p "$RESULTS"

cleanup() {
  redis-cli -p "$REL_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  as_root pg_dropcluster --stop "$PG_VERSION" faults >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "Private Redis on port $REL_REDIS_PORT"
redis-server --port "$REL_REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --logfile "$ROOT/var/redis-reliability.log"
for _ in $(seq 1 20); do port_open 127.0.0.1 "$REL_REDIS_PORT" && break; sleep 0.5; done

log "Throwaway PostgreSQL $PG_VERSION cluster 'faults' on port $REL_PG_PORT"
as_root pg_dropcluster --stop "$PG_VERSION" faults >/dev/null 2>&1 || true
as_root pg_createcluster "$PG_VERSION" faults --port "$REL_PG_PORT" >/dev/null
as_root pg_ctlcluster "$PG_VERSION" faults start
for _ in $(seq 1 30); do port_open 127.0.0.1 "$REL_PG_PORT" && break; sleep 1; done
as_root runuser -u postgres -- psql -p "$REL_PG_PORT" -qAt -c \
  "CREATE ROLE hjertealarm LOGIN SUPERUSER PASSWORD 'hjertealarm'" >/dev/null

export RELIABILITY_RESULTS_DIR="$RESULTS"
export REDIS_URL="redis://127.0.0.1:$REL_REDIS_PORT/0"
export RELIABILITY_PG_CLUSTER="$PG_VERSION faults"
export DATABASE_URL="postgis://hjertealarm:hjertealarm@127.0.0.1:$REL_PG_PORT/hjertealarm"
export TEST_DATABASE_NAME="${TEST_DATABASE_NAME:-test_reliability}"
log "Running the slow tests (fault injection, soak, fuzzing)"
status=0
"$VENV/bin/pytest" -m slow -p no:cacheprovider --create-db -q tests/reliability "$@" || status=$?

log "Writing docs/reliability.json"
"$VENV/bin/python" - "$RESULTS" "$ROOT/docs/reliability.json" <<'PY'
import json, pathlib, sys
results, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
keys = ("trials", "lost", "duplicated", "max_recovery_s", "requests", "server_errors")
figures = {}
for path in sorted(results.glob("*.json")):
    data = json.loads(path.read_text())
    figures[path.stem] = {k: data[k] for k in keys if k in data} | {
        "details": {k: v for k, v in data.items() if k not in keys}
    }
out.parent.mkdir(exist_ok=True)
out.write_text(json.dumps(figures, indent=2, default=str) + "\n")
print(json.dumps({k: {x: v.get(x) for x in keys if x in v} for k, v in figures.items()}, indent=1))
PY
exit "$status"
