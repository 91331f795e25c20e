"""Settings for the test suite: the normal settings in test mode."""

import os
import zlib

# Parallel runs (e.g. several checkouts) each keep their own test database and, with it, their
# own Redis database, so one run's worker never takes another run's tasks.
_test_database_name = os.environ.get("TEST_DATABASE_NAME")
_redis_db = 15 if not _test_database_name else 5 + zlib.crc32(_test_database_name.encode()) % 10
os.environ.setdefault("APP_MODE", "test")
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{_redis_db}")

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["TEST"] = {"NAME": _test_database_name or None}  # noqa: F405
