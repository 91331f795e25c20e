#!/bin/sh
# Prepares PostgreSQL for the platform, as the server's admin role; safe to run on every start
# (docker-compose.yml's `db-init` runs it before `migrate`). It creates, when missing:
#   - the application's role: LOGIN, not a superuser, no CREATEDB/CREATEROLE;
#   - the application's database, UTF-8 with the C.UTF-8 locale (what the tests and benchmarks
#     ran on), from template0, owned by that role;
#   - the extensions the migrations use, which need the admin (postgis is not a trusted
#     extension): postgis, btree_gist and pg_trgm. The migrations then find them in place and
#     create nothing (Django's CREATE EXTENSION IF NOT EXISTS, and CreateExtension only when
#     missing), so the application's role never needs more than ownership of its database.
# The role's password is set on every run, so changing APP_DB_PASSWORD in .env takes effect.
#
# Environment: PGHOST, PGUSER (the admin, e.g. postgres), PGPASSWORD (the admin's password),
# APP_DB_NAME, APP_DB_USER, APP_DB_PASSWORD.
set -eu

: "${APP_DB_NAME:?}" "${APP_DB_USER:?}" "${APP_DB_PASSWORD:?}"
case "$APP_DB_NAME$APP_DB_USER" in
  *[!a-z0-9_]*) echo "APP_DB_NAME and APP_DB_USER: lower-case letters, digits and _ only" >&2; exit 2 ;;
esac

for _ in $(seq 1 30); do pg_isready -q -d postgres && break; sleep 1; done

psql -v ON_ERROR_STOP=1 -q -d postgres \
  -v app_user="$APP_DB_USER" -v app_password="$APP_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', :'app_user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L',
              :'app_user', :'app_password') \gexec
SQL

psql -v ON_ERROR_STOP=1 -q -d postgres -v app_db="$APP_DB_NAME" -v app_user="$APP_DB_USER" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L LOCALE %L TEMPLATE template0',
              :'app_db', :'app_user', 'UTF8', 'C.UTF-8')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db') \gexec
SQL

PGOPTIONS="-c client_min_messages=warning" psql -v ON_ERROR_STOP=1 -q -d "$APP_DB_NAME" <<'SQL'
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
SQL

psql -q -d "$APP_DB_NAME" -At -c "SELECT 'database ' || current_database() || ': ' ||
  pg_encoding_to_char(encoding) || ', ' || datcollate || '; role ' || r.rolname ||
  CASE WHEN r.rolsuper THEN ' (SUPERUSER!)' ELSE ' (not a superuser)' END
  FROM pg_database d, pg_roles r WHERE d.datname = current_database() AND r.rolname = '$APP_DB_USER'"
