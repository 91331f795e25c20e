#!/usr/bin/env bash
# Sets up and runs the platform with demo data: web server, Celery worker and beat.
# Ctrl-C stops all of it. Running it again reuses the database, data and virtualenv.
source "$(dirname "$0")/lib.sh"
export APP_MODE=demo
setup_all
PY="$VENV/bin/python"
log "Migrating the database"
"$PY" manage.py migrate --no-input -v 0
log "Loading reference and demo data"
"$PY" manage.py seed_demo

PIDS=()
stop_all() {
  trap - INT TERM EXIT
  log "Stopping"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

"$VENV/bin/celery" -A config worker -l warning --concurrency 4 -n "demo@%h" & PIDS+=($!)
"$VENV/bin/celery" -A config beat -l warning -s "$ROOT/var/celerybeat-schedule" & PIDS+=($!)
"$PY" manage.py runserver --noreload 127.0.0.1:8000 & PIDS+=($!)
log "Hjertealarm runs at http://127.0.0.1:8000/ (admin: /admin/). Ctrl-C stops it."
wait -n "${PIDS[@]}" || true
