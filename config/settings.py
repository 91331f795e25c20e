"""Settings, all from the environment (12-factor).

APP_MODE selects defaults: ``production`` (the default: every secret must be given, and the
map tile server too),
``demo`` (local run with recording channel backends) or ``test``.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.beat import beat_schedule
from config.client_ip import trusted_proxies_parse

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Settings by topic, each module reading its own environment variables (Django reads the
# upper-case names): config/settings_<topic>.py, imported once .env has been read.
from config.settings_accounts import *  # noqa: E402, F403
from config.settings_addresses import *  # noqa: E402, F403
from config.settings_cad import *  # noqa: E402, F403
from config.settings_codes import *  # noqa: E402, F403
from config.settings_insight import *  # noqa: E402, F403
from config.settings_ops import *  # noqa: E402, F403  logs, Sentry, /metrics, heartbeats
from config.settings_positions import *  # noqa: E402, F403
from config.settings_simulation import *  # noqa: E402, F403

APP_MODE = env.str("APP_MODE", default="production")
if APP_MODE not in {"production", "demo", "test"}:
    raise ImproperlyConfigured(f"APP_MODE must be production, demo or test, not {APP_MODE!r}")
LOCAL_MODE = APP_MODE in {"demo", "test"}

DEBUG = env.bool("DEBUG", default=APP_MODE == "demo")
if LOCAL_MODE:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-only-" + "x" * 40)
else:
    SECRET_KEY = env.str("SECRET_KEY")  # raises a clear ImproperlyConfigured when missing

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if LOCAL_MODE else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "leaflet",
    "phonenumber_field",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "amk",
    "volunteers",
    "alerts",
    "defibrillators",
    "amk.cad",
    "config",  # project-wide templates, static files (map outlines), locale and commands
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The location reports of the app, before the layers they don't use (volunteers.fastpath).
    "volunteers.fastpath.LocationFastPathMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Danish unless the user chose another language; never the browser's (config.language).
    "config.language.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "amk.console.sessions.SessionTimeoutMiddleware",
    "amk.console.sessions.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    # The incident or alert of the URL in every log line of the request (config.logs).
    "config.logs.LogContextMiddleware",
]

if not LOCAL_MODE:
    # Production serves the collected static files itself; locally runserver and the test
    # live server serve them from the apps.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
            ],
        },
    },
]

_default_database_url = "postgis://hjertealarm:hjertealarm@127.0.0.1:5432/hjertealarm"
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=_default_database_url if LOCAL_MODE else environ.Env.NOTSET
    )
}
if DATABASES["default"]["ENGINE"] != "django.contrib.gis.db.backends.postgis":
    raise ImproperlyConfigured("DATABASE_URL must use the postgis:// scheme")
# The same backend with a health check that needs no round trip (config/postgis/base.py).
DATABASES["default"]["ENGINE"] = "config.postgis"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Performance: short OLTP queries only. JIT compilation costs 20+ ms on the first query whose
# estimated cost passes jit_above_cost (candidate selection at 1M volunteers), for no gain.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str(
    "REDIS_URL", default="redis://127.0.0.1:6379/3" if LOCAL_MODE else environ.Env.NOTSET
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "da"
LANGUAGES = [("da", _("Danish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Danish whatever the browser says; another language only as the user's choice, kept in this
# cookie for a year (config.language, the console's language switch).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = not LOCAL_MODE
TIME_ZONE = "Europe/Copenhagen"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if APP_MODE == "production"
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "login"

# Security: production defaults are strict; local modes run on plain http://127.0.0.1.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not LOCAL_MODE)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The reverse proxies in front of the app (config/client_ip.py): a count, or CIDR networks.
try:
    TRUSTED_PROXIES = trusted_proxies_parse(env.str("TRUSTED_PROXIES", default=""))
except ValueError as exc:
    raise ImproperlyConfigured(
        f"TRUSTED_PROXIES must be a count (e.g. 1) or CIDR networks (e.g. 10.0.0.0/8): {exc}"
    ) from exc
CSRF_COOKIE_SECURE = not LOCAL_MODE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if LOCAL_MODE else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not LOCAL_MODE
SECURE_HSTS_PRELOAD = not LOCAL_MODE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# gis.W001: Debian bookworm ships GDAL 3.6, which cannot block file and network access while
# parsing spatial references. Ours come from fixed SRIDs (4326); GeoJSON is parsed only from staff
# (admin map widgets) and trusted reference files. The fix is GDAL >= 3.9 (Debian trixie), after
# which this line can go.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# Celery: the broker is Redis; results are not needed (state lives in PostgreSQL).
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# Phone numbers: Danish numbers may be typed without +45.
PHONENUMBER_DEFAULT_REGION = "DK"
PHONENUMBER_DB_FORMAT = "E164"

# Reference geography: the service region (DAGI region code) and the data files.
SERVICE_REGION_CODE = env.str("SERVICE_REGION_CODE", default="1082")
# Incidents on a quay, beach or islet just outside the generalised outlines (amk territory).
SERVICE_REGION_SHORE_TOLERANCE_M = env.int("SERVICE_REGION_SHORE_TOLERANCE_M", default=1000)
REFERENCE_DATA_DIR = Path(env.str("REFERENCE_DATA_DIR", default=str(BASE_DIR / "data")))

# Map tiles (JSON list of Leaflet layers: [name, URL template, options]). Locally OpenStreetMap's
# public server; production must name its own (or "[]" for the offline outlines only, which the
# maps always draw): tile.openstreetmap.org's usage policy rules out production use, and every
# tile requested around an incident would tell a third party where the patient is.
_DEMO_TILES = [
    (
        "OpenStreetMap",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        {"attribution": "&copy; OpenStreetMap contributors", "maxZoom": 19},
    )
]
if not LOCAL_MODE and not env.str("MAP_TILES", default="").strip():
    raise ImproperlyConfigured(
        "MAP_TILES is required in production: a JSON list of Leaflet tile layers from a tile "
        'server you may use, e.g. [["Kort", "https://tiles.example.org/{z}/{x}/{y}.png", {}]], '
        "or [] for the offline municipality outlines only (tile.openstreetmap.org is not for "
        "production use)."
    )
MAP_TILES = env.json("MAP_TILES", default=_DEMO_TILES)
if not isinstance(MAP_TILES, list):
    raise ImproperlyConfigured("MAP_TILES must be a JSON list of [name, URL, options] layers.")

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (56.2, 9.6),
    "DEFAULT_ZOOM": 8,
    "MIN_ZOOM": 5,
    "MAX_ZOOM": 18,
    "TILES": MAP_TILES,
    "RESET_VIEW": False,
}

# The Celery worker logs through our handler (and its filters) instead of its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# The platform's public address, for provider callbacks (Twilio status) and links in messages.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")

# Channels (alerts/channels): SMS and push backends chosen like Django's email backends. Local
# modes record messages in the database (alerts.OutboxMessage); production talks to Twilio and
# FCM, and a missing credential stops manage.py commands and the Celery worker at start-up.
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default="alerts.channels.outbox.OutboxSmsBackend"
    if LOCAL_MODE
    else "alerts.channels.twilio.TwilioSmsBackend",
)
PUSH_BACKEND = env.str(
    "PUSH_BACKEND",
    default="alerts.channels.outbox.OutboxPushBackend"
    if LOCAL_MODE
    else "alerts.channels.fcm.FcmPushBackend",
)
# Travel times for the responders' roles (alerts/selectors/routing.py): a class taking the
# dispatch policy; by default the straight line × the policy's detour factor / its speed.
ALERTS_ROUTER = env.str("ALERTS_ROUTER", default="alerts.selectors.routing.StraightLineRouter")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env.str("TWILIO_FROM", default="")  # a number, alphanumeric id or "MG..." service
TWILIO_API_BASE = env.str("TWILIO_API_BASE", default="https://api.twilio.com")
TWILIO_TIMEOUT_S = env.float("TWILIO_TIMEOUT_S", default=5.0)
FIREBASE_CREDENTIALS_FILE = env.str("FIREBASE_CREDENTIALS_FILE", default="")
FCM_API_BASE = env.str("FCM_API_BASE", default="https://fcm.googleapis.com")
FCM_TIMEOUT_S = env.float("FCM_TIMEOUT_S", default=5.0)

from datetime import timedelta  # noqa: E402

# The mobile REST API (volunteers/apis/, /api/v1/): knox tokens per device, throttles in the
# Redis cache, errors mapped by config.api.exception_handler, schema by drf-spectacular.
INSTALLED_APPS += ["knox", "drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["config.api.LeanTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.api.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_THROTTLE_RATES": {
        "otp_phone": env.str("THROTTLE_OTP_PHONE", default="5/hour"),
        "otp_ip": env.str("THROTTLE_OTP_IP", default="30/hour"),
        "login_phone": env.str("THROTTLE_LOGIN_PHONE", default="10/hour"),
        "login_ip": env.str("THROTTLE_LOGIN_IP", default="60/hour"),
        "api": env.str("THROTTLE_API", default="600/hour"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
API_JSON_MAX_BYTES = env.int("API_JSON_MAX_BYTES", default=64 * 1024)
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
KNOX_TOKEN_MODEL = "knox.AuthToken"  # noqa: S105  a model label, not a secret
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=90)),
    "AUTO_REFRESH": True,
    "AUTO_REFRESH_MAX_TTL": timedelta(days=365),
    "MIN_REFRESH_INTERVAL": 24 * 3600,  # at most one extra write a day per token
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Hjertealarm volunteer API",
    "DESCRIPTION": (
        "The hjerteløber app's API: sign-up and login by SMS code, profile, devices, location, "
        "alerts, debriefs, nearby AEDs and personal data. Authenticate with "
        "`Authorization: Token <token>` from /api/v1/auth/signup/ or /api/v1/auth/login/."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": CAD_ENUM_NAME_OVERRIDES,  # noqa: F405  config.settings_cad
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}
# Sign-up and location rules for the app.
OTP_TTL_S = env.int("OTP_TTL_S", default=600)
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=5)
# The SMS budget for login codes (volunteers.services.code_budget): where codes may go, how many.
SMS_CODE_COUNTRIES = env.list("SMS_CODE_COUNTRIES", default=["DK"])
SMS_CODE_PER_NUMBER_HOUR = env.int("SMS_CODE_PER_NUMBER_HOUR", default=5)
SMS_CODE_PER_NUMBER_DAY = env.int("SMS_CODE_PER_NUMBER_DAY", default=10)
SMS_CODE_GLOBAL_PER_HOUR = env.int("SMS_CODE_GLOBAL_PER_HOUR", default=300)
SMS_CODE_FROM = env.str("SMS_CODE_FROM", default="")  # empty: TWILIO_FROM, the alerts' sender
VOLUNTEER_TERMS_VERSION = env.str("VOLUNTEER_TERMS_VERSION", default="2025-01")
VOLUNTEER_LOCATION_CONSENT_VERSION = env.str(
    "VOLUNTEER_LOCATION_CONSENT_VERSION", default="2025-01"
)
LOCATION_MAX_AGE_S = env.int("LOCATION_MAX_AGE_S", default=600)
LOCATION_MAX_ACCURACY_M = env.int("LOCATION_MAX_ACCURACY_M", default=200)
LOCATION_CLOCK_SKEW_S = env.int("LOCATION_CLOCK_SKEW_S", default=60)
# At most one stored position per volunteer this often (429 with Retry-After in between).
LOCATION_MIN_INTERVAL_S = env.int("LOCATION_MIN_INTERVAL_S", default=2)
# Retention: a current location is cleared after this; alert snapshots are nulled after that.
LOCATION_RETENTION_S = env.int("LOCATION_RETENTION_S", default=24 * 3600)
ALERT_LOCATION_RETENTION_DAYS = env.int("ALERT_LOCATION_RETENTION_DAYS", default=30)

# The cache (API throttles) lives in Redis, shared by every web process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        "TIMEOUT": 300,
    }
}

# The periodic AED import (defibrillators.tasks, by Celery beat): off unless a source is set, a
# file path or an http(s) URL with Overpass JSON, GeoJSON or CSV. A run that would drop more than
# AED_IMPORT_MAX_DROP_SHARE of the source's current AEDs is refused and changes nothing.
AED_IMPORT_SOURCE = env.str("AED_IMPORT_SOURCE", default="")
AED_IMPORT_FORMAT = env.str("AED_IMPORT_FORMAT", default="")  # empty: from the file itself
AED_IMPORT_MAX_DROP_SHARE = env.float("AED_IMPORT_MAX_DROP_SHARE", default=0.2)
AED_IMPORT_EVERY_S = env.int("AED_IMPORT_EVERY_S", default=24 * 3600)
AED_IMPORT_TIMEOUT_S = env.float("AED_IMPORT_TIMEOUT_S", default=60.0)
AED_IMPORT_MAX_BYTES = env.int("AED_IMPORT_MAX_BYTES", default=100 * 1024 * 1024)
if not 0 <= AED_IMPORT_MAX_DROP_SHARE <= 1:
    raise ImproperlyConfigured("AED_IMPORT_MAX_DROP_SHARE must be from 0 to 1, e.g. 0.2")
if AED_IMPORT_FORMAT not in {"", "osm-json", "geojson", "csv"}:
    raise ImproperlyConfigured("AED_IMPORT_FORMAT must be osm-json, geojson or csv (or empty)")

# What Celery beat runs, and how often (config/beat.py).
CELERY_BEAT_SCHEDULE = beat_schedule(
    aed_import_every_s=AED_IMPORT_EVERY_S if AED_IMPORT_SOURCE else None,
    coverage_every_s=COVERAGE_REFRESH_S,  # noqa: F405  config.settings_insight
)
CELERY_IMPORTS = ["amk.insight.tasks"]
