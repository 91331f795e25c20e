"""The production deployment: docker-compose.yml, the Dockerfile and `check --deploy`."""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
APP_SERVICES = {"web", "worker", "beat", "migrate"}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|CREDENTIAL|API_KEY|AUTH|DATABASE_URL", re.I)
INTERPOLATION = re.compile(r"^\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}$")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def as_dict(environment) -> dict:
    if environment is None:
        return {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    return environment


def test_services(compose):
    services = compose["services"]
    assert set(services) == {"db", "db-init", "redis", "web", "worker", "beat", "migrate"}
    assert services["db"]["image"] == "postgis/postgis:15-3.4"
    assert services["redis"]["image"] == "redis:7"
    for name in APP_SERVICES:
        assert services[name]["build"] == "."
        assert services[name]["env_file"] == ".env"
        assert as_dict(services[name]["environment"])["APP_MODE"] == "production"

    # gunicorn as measured: the settings file, nothing on the command line overriding it.
    assert services["web"]["command"] == [
        "gunicorn",
        "-c",
        "config/gunicorn.py",
        "config.wsgi:application",
    ]
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"


def test_health_checks(compose):
    services = compose["services"]
    db = " ".join(services["db"]["healthcheck"]["test"])
    assert "pg_isready" in db
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    web = " ".join(services["web"]["healthcheck"]["test"])
    assert "/healthz" in web
    assert "127.0.0.1:8000" in web
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    for name in ("db", "redis", "web", "worker"):
        check = services[name]["healthcheck"]
        assert check["interval"]
        assert check["timeout"]
        assert check["retries"] >= 3


def test_depends_on_waits_for_healthy_services(compose):
    services = compose["services"]
    assert services["db-init"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["migrate"]["depends_on"] == {
        "db-init": {"condition": "service_completed_successfully"}
    }
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }


def test_named_volume_for_database(compose):
    assert "db-data:/var/lib/postgresql/data" in compose["services"]["db"]["volumes"]
    assert "db-data" in compose["volumes"]
    # Neither PostgreSQL nor Redis is published; the web port only on the loopback interface.
    assert "ports" not in compose["services"]["db"]
    assert "ports" not in compose["services"]["redis"]
    assert all(p.startswith("127.0.0.1:") for p in compose["services"]["web"]["ports"])


def test_no_secret_values_hard_coded(compose):
    for name, service in compose["services"].items():
        for key, value in as_dict(service.get("environment")).items():
            if SECRET_NAME.search(key):
                # Allowed: no value (from the env file), ${VAR} from the environment, or the path
                # of a mounted secret file.
                assert (
                    value is None
                    or INTERPOLATION.match(str(value))
                    or str(value).startswith("/run/secrets/")
                ), (name, key, value)
    assert set(compose["secrets"]["firebase"]) == {"file"}
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"://[^/\s:@]+:[^@\s/]+@", body), "credentials in a URL"
    assert "SECRET_KEY" not in body


def test_no_default_passwords_and_no_superuser_for_the_app(compose):
    """Every password comes from .env (compose stops without it); Redis requires one; the
    app's role is not the PostgreSQL admin, which only db-init uses."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert not re.search(r"\$\{[A-Z_]*PASSWORD:?-", text), "a password with a default"
    services = compose["services"]
    redis_env = as_dict(services["redis"]["environment"])
    assert redis_env["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert "--requirepass" in " ".join(services["redis"]["command"])
    assert redis_env["REDISCLI_AUTH"] == redis_env["REDIS_PASSWORD"]  # the health check's
    db_env = as_dict(services["db"]["environment"])
    assert db_env["POSTGRES_USER"] == "postgres"
    assert "--encoding=UTF8" in db_env["POSTGRES_INITDB_ARGS"]
    init = services["db-init"]
    init_env = as_dict(init["environment"])
    assert init_env["PGUSER"] == "postgres"
    assert init_env["APP_DB_USER"] != "postgres"
    assert init["command"] == ["sh", "/db-init.sh"]
    assert "./deploy/db-init.sh:/db-init.sh:ro" in init["volumes"]
    script = (ROOT / "deploy" / "db-init.sh").read_text()
    assert "NOSUPERUSER" in script
    assert "ENCODING %L LOCALE %L TEMPLATE template0" in script
    for service in APP_SERVICES:  # the app never gets the admin's password
        assert "POSTGRES_ADMIN_PASSWORD" not in str(services[service].get("environment"))


def test_production_refuses_redis_without_a_password(tmp_path):
    env = _production_env(tmp_path, REDIS_URL="redis://127.0.0.1:6379/3")
    returncode, output = _manage(env, "check")
    assert returncode != 0
    assert "REDIS_URL must carry Redis's password in production" in output


def test_web_health_check_command_is_valid_python(compose):
    code = compose["services"]["web"]["healthcheck"]["test"][-1]
    compile(code, "<healthcheck>", "exec")


def test_dockerfile():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim-bookworm$", text, re.M)
    for package in ("gdal-bin", "libgdal32", "libgeos-c1v5", "libproj25"):
        assert package in text
    assert "pip install" in text
    assert "collectstatic --noinput" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users
    assert users[-1] not in {"root", "0"}
    cmd = re.findall(r"^CMD (.*)$", text, re.M)
    assert cmd == ['["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]']
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored
    assert ".git" in ignored
    assert ".venv" in ignored


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_is_valid(tmp_path):
    command = _compose_command()
    if command is None:
        pytest.skip("no docker compose client on this machine")
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text(
        "\n".join(
            [
                "APP_MODE=production",
                f"SECRET_KEY={secrets.token_urlsafe(50)}",
                "ALLOWED_HOSTS=example.org",
                "POSTGRES_ADMIN_PASSWORD=not-a-real-admin-password",
                "APP_DB_PASSWORD=not-a-real-password",
                "DATABASE_URL=postgis://hjertealarm:not-a-real-password@db:5432/hjertealarm",
                "REDIS_PASSWORD=not-a-real-redis-password",
                "REDIS_URL=redis://:not-a-real-redis-password@redis:6379/0",
                'MAP_TILES=[["Kort", "https://tiles.example.org/{z}/{x}/{y}.png", {}]]',
            ]
        )
        + "\n"
    )
    result = subprocess.run(
        [*command, "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    # Without the database password the configuration is refused, not silently empty.
    (tmp_path / ".env").write_text("SECRET_KEY=x\n")
    result = subprocess.run(
        [*command, "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.endswith("PASSWORD")},
    )
    assert result.returncode != 0
    assert "PASSWORD" in result.stderr


def _production_env(tmp_path, **overrides) -> dict:
    """The environment of production as docker-compose.yml gives it: the channel checks need
    provider credentials (placeholders, well-formed but fake) and the maps a tile server."""
    from alerts.channels.fcm import SERVICE_ACCOUNT_FIELDS

    service_account = tmp_path / "firebase.json"
    service_account.write_text(
        json.dumps({name: f"placeholder-{name}" for name in SERVICE_ACCOUNT_FIELDS}).replace(
            '"placeholder-type"', '"service_account"'
        )
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "APP_", "SECURE_", "DEBUG", "SMS_", "PUSH_"))
    }
    env.update(
        APP_MODE="production",
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL="postgis://hjertealarm:hjertealarm@127.0.0.1:5432/hjertealarm",
        REDIS_URL="redis://:not-a-real-redis-password@127.0.0.1:6379/3",
        ALLOWED_HOSTS="example.org",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        TWILIO_FROM="+4570000000",
        FIREBASE_CREDENTIALS_FILE=str(service_account),
        MAP_TILES='[["Kort", "https://tiles.example.org/{z}/{x}/{y}.png", {}]]',
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def _manage(env: dict, *args: str) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_check_deploy_reports_no_issues(tmp_path):
    """Production settings as docker-compose.yml gives them pass `check --deploy` cleanly."""
    returncode, output = _manage(
        _production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert returncode == 0, output
    assert "System check identified no issues" in output, output


@pytest.mark.parametrize("value", [None, "", "  "])
def test_production_refuses_to_start_without_map_tiles(tmp_path, value):
    """No silent default to tile.openstreetmap.org: every process (gunicorn, the worker,
    manage.py) loads the settings, which name what is missing."""
    returncode, output = _manage(_production_env(tmp_path, MAP_TILES=value), "check")
    assert returncode != 0
    assert "MAP_TILES is required in production" in output


def test_production_accepts_no_tiles_and_the_maps_keep_their_outlines(tmp_path, settings):
    env = _production_env(tmp_path, MAP_TILES="[]")
    returncode, output = _manage(
        env, "shell", "-c", "from django.conf import settings; print(settings.LEAFLET_CONFIG)"
    )
    assert returncode == 0, output
    assert "'TILES': []" in output

    from amk.console.views import map_config

    settings.LEAFLET_CONFIG = {**settings.LEAFLET_CONFIG, "TILES": []}
    config = map_config()
    assert config["tiles"] == []
    assert config["outlines"].endswith("geo/kommuner.geojson")


def test_production_refuses_map_tiles_that_are_not_a_list(tmp_path):
    env = _production_env(tmp_path, MAP_TILES='{"url": "https://x"}')
    returncode, output = _manage(env, "check")
    assert returncode != 0
    assert "MAP_TILES must be a JSON list" in output


def test_demo_and_test_modes_keep_openstreetmap_and_the_dockerfile_builds_without_tiles(
    settings,
):
    assert (
        settings.LEAFLET_CONFIG["TILES"][0][1] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    )
    assert "MAP_TILES='[]'" in DOCKERFILE.read_text()


def test_production_refuses_a_short_metrics_token(tmp_path):
    returncode, output = _manage(_production_env(tmp_path, METRICS_TOKEN="short"), "check")
    assert returncode != 0
    assert "METRICS_TOKEN must be at least 16 characters" in output
