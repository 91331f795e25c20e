"""The project's settings plus one bench-only URL: the baseline view of the location benchmark."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
