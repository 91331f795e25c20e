"""The deployment's database and dependencies, for real: deploy/db-init.sh against this
PostgreSQL (the migrations then run as a role that is not a superuser), and pip-audit over the
lock file."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from django.db import connection

from config.checks import database_role_and_encoding
from tests.test_deployment import _manage, _production_env

ROOT = Path(__file__).resolve().parent.parent


def _admin_dsn(settings_dict: dict, dbname: str) -> dict:
    return {
        "host": settings_dict["HOST"] or "127.0.0.1",
        "port": settings_dict["PORT"] or 5432,
        "user": settings_dict["USER"],
        "password": settings_dict["PASSWORD"],
        "dbname": dbname,
    }


@pytest.fixture
def admin(db):
    """The test run's own role, when it may act as the PostgreSQL admin (a superuser)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        (superuser,) = cursor.fetchone()
    if not superuser:
        pytest.skip("the test database's role is not a superuser: it cannot play the admin")
    return dict(connection.settings_dict)


def test_db_init_makes_a_utf8_database_that_a_non_superuser_migrates(admin, tmp_path):
    name = f"hja_dbinit_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    env = dict(os.environ) | {
        "PGHOST": admin["HOST"] or "127.0.0.1",
        "PGPORT": str(admin["PORT"] or 5432),
        "PGUSER": admin["USER"],
        "PGPASSWORD": admin["PASSWORD"],
        "APP_DB_NAME": name,
        "APP_DB_USER": name,
        "APP_DB_PASSWORD": password,
    }
    host, port = env["PGHOST"], env["PGPORT"]
    database_url = f"postgis://{name}:{password}@{host}:{port}/{name}"
    try:
        for _run in range(2):  # safe to run on every start
            result = subprocess.run(
                ["sh", "deploy/db-init.sh"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stderr
        assert f"database {name}: UTF8, C.UTF-8; role {name} (not a superuser)" in result.stdout

        conn = psycopg2.connect(**_admin_dsn(admin, name))
        try:
            cursor = conn.cursor()
            cursor.execute(
                "SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, d.datdba = r.oid,"
                " pg_encoding_to_char(d.encoding), d.datcollate"
                " FROM pg_roles r, pg_database d WHERE r.rolname = %s AND d.datname = %s",
                [name, name],
            )
            row = cursor.fetchone()
            cursor.execute("SELECT extname FROM pg_extension")
            extensions = {r[0] for r in cursor.fetchall()}
        finally:
            conn.close()
        assert row == (False, False, False, True, "UTF8", "C.UTF-8")
        assert {"postgis", "btree_gist", "pg_trgm"} <= extensions

        # Every migration runs as the application's role: no CREATE EXTENSION needs more.
        local = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        local |= {"APP_MODE": "test", "DATABASE_URL": database_url}
        returncode, output = _manage(local, "migrate", "--noinput")
        assert returncode == 0, output
        returncode, output = _manage(
            _production_env(tmp_path, DATABASE_URL=database_url),
            "check",
            "--deploy",
            "--database",
            "default",
            "--fail-level",
            "WARNING",
        )
        assert returncode == 0, output
        assert "config.W001" not in output
    finally:
        conn = psycopg2.connect(**_admin_dsn(admin, "postgres"))
        conn.autocommit = True
        try:
            cursor = conn.cursor()
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'DROP ROLE IF EXISTS "{name}"')
        finally:
            conn.close()


def test_the_deploy_check_names_a_superuser_connection(admin):
    """This test run's own role is one (locally, so that pytest can create the test database
    with PostGIS): `check --deploy --database default` would warn about it."""
    problems = database_role_and_encoding(None, databases=["default"])
    assert [p.id for p in problems] == ["config.W001"]


def test_pip_audit_finds_no_known_vulnerability_in_the_lock_file():
    """pip-audit over requirements/lock.txt (hashes required, nothing installed). It needs the
    vulnerability service (PyPI's JSON API): skipped, saying so, when that does not answer."""
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip_audit",
                "-r",
                "requirements/lock.txt",
                "--require-hashes",
                "--disable-pip",
                "--format",
                "json",
                "--progress-spinner",
                "off",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("pip-audit: the vulnerability service did not answer within 10 minutes")
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        if "ConnectionError" in result.stderr or "Max retries" in result.stderr:
            pytest.skip(
                f"pip-audit: the vulnerability service is unreachable: {result.stderr[-300:]}"
            )
        raise AssertionError(result.stderr[-3000:]) from None
    dependencies = report["dependencies"]
    audited = [d for d in dependencies if "skip_reason" not in d]
    if not audited:
        pytest.skip(
            "pip-audit: the vulnerability service answered for none of the "
            f"{len(dependencies)} locked packages (offline, or a mirror without PyPI's JSON API)"
        )
    vulnerable = {f"{d['name']}=={d['version']}": d["vulns"] for d in audited if d["vulns"]}
    assert not vulnerable, json.dumps(vulnerable, indent=1)[:5000]
    assert result.returncode == 0, result.stderr[-3000:]
