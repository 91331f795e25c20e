"""Settings for the test suite: the normal settings in test mode."""

import os

os.environ.setdefault("APP_MODE", "test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Parallel runs (e.g. several checkouts) can each keep their own test database.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}  # noqa: F405
