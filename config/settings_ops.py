"""Operations settings: logs (plain or JSON), error reporting (Sentry), the metrics endpoint and
the heartbeats /healthz reads. Imported by name into config/settings.py."""

from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from config.sentry import sentry_init

env = environ.Env()

_APP_MODE = env.str("APP_MODE", default="production")
_LOCAL_MODE = _APP_MODE in {"demo", "test"}

# Redis holds the task queue and the throttles: in production only behind a password
# (redis-server --requirepass, docker-compose.yml), given in the URL.
_REDIS_URL = env.str("REDIS_URL", default="")
if not _LOCAL_MODE and _REDIS_URL.startswith("redis") and not urlsplit(_REDIS_URL).password:
    raise ImproperlyConfigured(
        "REDIS_URL must carry Redis's password in production: redis://:<password>@host:6379/0 "
        "(and Redis started with --requirepass)"
    )

# Logs: one JSON object a line in production (ts, level, logger, message, incident_id and
# alert_id when known: config.logs), plain text locally. The redaction filter runs first, so
# neither format carries phone numbers, tokens or coordinates.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if _LOCAL_MODE else "json")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "config.logs.PlainContextFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "config.logs.JsonFormatter"},
    },
    # No phone numbers, tokens or coordinates in the logs, whoever writes them; then the
    # incident and alert the process is working on (config.logs).
    "filters": {
        "personal_data": {"()": "config.security.PersonalDataFilter"},
        "log_context": {"()": "config.logs.LogContextFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["personal_data", "log_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # runserver's request lines (Django's default handler would bypass the filter).
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # twilio's HTTP client logs request bodies (numbers, texts) at INFO.
        "twilio.http_client": {"level": "WARNING"},
        "alerts.channels.twilio.http": {"level": "WARNING"},
    },
}

# Error reporting: Sentry (or a compatible server) only when SENTRY_DSN is set; no personal
# data is sent (config.sentry), and performance tracing is off unless a sample rate is given.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default=_APP_MODE)
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
SENTRY_ENABLED = sentry_init(
    dsn=SENTRY_DSN,
    environment=SENTRY_ENVIRONMENT,
    traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
)

# Prometheus metrics at /metrics (config.metrics), for a scraper holding this bearer token;
# without a token the endpoint does not exist (404). Gauges cover the last METRICS_WINDOW_S.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_WINDOW_S = env.int("METRICS_WINDOW_S", default=24 * 3600)
if METRICS_TOKEN and len(METRICS_TOKEN) < 16 and not _LOCAL_MODE:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters (or empty: off)")

# Heartbeats (config.heartbeat): the worker and beat each write theirs every
# HEARTBEAT_INTERVAL_S; /healthz calls one older than HEALTH_STALE_S stale (503).
HEARTBEAT_INTERVAL_S = env.float("HEARTBEAT_INTERVAL_S", default=10.0)
HEALTH_STALE_S = env.float("HEALTH_STALE_S", default=60.0)
CELERY_BEAT_SCHEDULER = "config.heartbeat:HeartbeatScheduler"
