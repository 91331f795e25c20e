"""Address search settings: the local DAR register (default) or a DAWA-compatible HTTP service.

The local register is the default so that an emergency never waits on a third party; the HTTP
backend is for sites that keep no copy of the address data. Imported into config.settings.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()
# Imported before config.settings reads .env: read it here too (existing variables win).
environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)

# "local": the address register in PostGIS (import_addresses); "dawa": a service speaking the
# DAWA REST interface (/autocomplete) at DAWA_COMPATIBLE_BASE_URL, with the local register as
# the fallback when it does not answer in time.
ADDRESS_SEARCH_BACKEND = env.str("ADDRESS_SEARCH_BACKEND", default="local")
if ADDRESS_SEARCH_BACKEND not in {"local", "dawa"}:
    raise ImproperlyConfigured(
        f"ADDRESS_SEARCH_BACKEND must be local or dawa, not {ADDRESS_SEARCH_BACKEND!r}"
    )
DAWA_COMPATIBLE_BASE_URL = env.str("DAWA_COMPATIBLE_BASE_URL", default="").rstrip("/")
if ADDRESS_SEARCH_BACKEND == "dawa" and not DAWA_COMPATIBLE_BASE_URL.startswith(
    ("http://", "https://")
):
    raise ImproperlyConfigured(
        "ADDRESS_SEARCH_BACKEND=dawa needs DAWA_COMPATIBLE_BASE_URL, an http(s) base URL of a "
        "DAWA-compatible service (its /autocomplete is used)."
    )
# Seconds the console waits for the HTTP backend before it answers from the local register.
ADDRESS_SEARCH_TIMEOUT_S = env.float("ADDRESS_SEARCH_TIMEOUT_S", default=1.5)
