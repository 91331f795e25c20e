# Shared set-up for scripts/demo.sh and scripts/test.sh: sourced, not run.
# Installs what is missing (Debian/Ubuntu), provides PostGIS and Redis unless DATABASE_URL and
# REDIS_URL are given, and prepares the virtualenv. Safe to run again: it reuses what exists.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
DB_NAME="${HJERTEALARM_DB_NAME:-hjertealarm}"
DB_USER="hjertealarm"
DB_PASSWORD="hjertealarm"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mError:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "root rights are needed to install system packages: run as root or install sudo"; fi
}

APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing system packages (${missing[*]}) and no apt-get here"
  log "Installing system packages: ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

ensure_python() {
  apt_install gdal-bin libgeos-c1v5 libproj25 ca-certificates
  PYTHON="${PYTHON:-}"
  if [ -z "$PYTHON" ]; then
    for candidate in python3.11 python3.12 python3.13 python3; do
      if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PYTHON="$(command -v "$candidate")"; break
      fi
    done
  fi
  [ -n "$PYTHON" ] || { apt_install python3 python3-venv; PYTHON="$(command -v python3)"; }
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
}

# The lock file the virtualenv is installed from: requirements/lock.txt (runtime + dev, with
# hashes); scripts/bench.sh sets requirements/bench.txt (the same plus the bench extra).
LOCK_FILE="${LOCK_FILE:-requirements/lock.txt}"

ensure_venv() {
  local stamp="$VENV/.installed-$(cat "$LOCK_FILE" pyproject.toml | sha1sum | cut -c1-12)"
  [ -x "$VENV/bin/python" ] || { log "Creating the virtualenv in .venv"; "$PYTHON" -m venv "$VENV"; }
  if [ ! -f "$stamp" ]; then
    log "Installing Python packages from $LOCK_FILE"
    # Exactly the locked versions, each checked against its hash (pip and setuptools included);
    # then the project itself, built with the locked setuptools and adding no dependency.
    "$VENV/bin/python" -m pip install -q --require-hashes -r "$LOCK_FILE"
    "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
    rm -f "$VENV"/.installed-*; touch "$stamp"
  fi
}

pg_psql() { as_root runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAt "$@"; }

ensure_postgis() {
  if [ -n "${DATABASE_URL:-}" ]; then
    log "Using DATABASE_URL from the environment"
    # A local server still needs the PostGIS package for its version.
    if command -v pg_lsclusters >/dev/null; then
      for v in $(pg_lsclusters -h | awk '{print $1}' | sort -u); do apt_install "postgresql-$v-postgis-3"; done
    fi
    return 0
  fi
  if ! command -v pg_lsclusters >/dev/null; then apt_install postgresql postgresql-common; fi
  local version
  version="$(pg_lsclusters -h | awk '$3 == 5432 {print $1; exit}')"
  if [ -z "$version" ]; then
    version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
    log "Creating a PostgreSQL $version cluster on port 5432"
    as_root pg_createcluster "$version" main --port 5432 >/dev/null
  fi
  apt_install "postgresql-$version-postgis-3"
  if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $3 == 5432' | grep -q online; then
    log "Starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
      || as_root pg_ctlcluster "$version" main start
  fi
  for _ in $(seq 1 30); do port_open 127.0.0.1 5432 && break; sleep 1; done
  port_open 127.0.0.1 5432 || die "PostgreSQL does not answer on 127.0.0.1:5432"
  # Our own role and database; other databases on the server are left alone. Locally the role
  # is a superuser so that the test runner can create its test databases with the PostGIS
  # extension (not a trusted extension); production connects as a role that only owns its
  # database (deploy/db-init.sh, docker-compose.yml), and `check --deploy --database default`
  # warns about a superuser.
  pg_psql -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
        CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASSWORD';
      END IF; END \$\$;"
  if [ -z "$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
    log "Creating database $DB_NAME"
    # UTF-8 whatever the server's default, with the locale the tests and benchmarks ran on.
    pg_psql -c "CREATE DATABASE $DB_NAME OWNER $DB_USER ENCODING 'UTF8' LOCALE 'C.UTF-8' TEMPLATE template0"
  fi
  export DATABASE_URL="postgis://$DB_USER:$DB_PASSWORD@127.0.0.1:5432/$DB_NAME"
}

ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then log "Using REDIS_URL from the environment"; return 0; fi
  if ! port_open 127.0.0.1 6379; then
    command -v redis-server >/dev/null || apt_install redis-server
    log "Starting Redis on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --logfile "$ROOT/var/redis.log"
    for _ in $(seq 1 20); do port_open 127.0.0.1 6379 && break; sleep 0.5; done
    port_open 127.0.0.1 6379 || die "Redis does not answer on 127.0.0.1:6379"
  fi
}

setup_all() {
  mkdir -p "$ROOT/var"
  ensure_python
  ensure_postgis
  ensure_redis
  ensure_venv
}
