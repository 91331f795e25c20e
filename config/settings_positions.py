"""Settings of the position rules that guard who may be dispatched (volunteers.services.location).

A position farther from the stored one than anyone could travel in the time between their
measurements is refused and flagged on the volunteer.
"""

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

# About 250 km/h: faster than any road journey in Denmark, slower than a GPS glitch across town.
LOCATION_JUMP_MAX_SPEED_MPS = env.float("LOCATION_JUMP_MAX_SPEED_MPS", default=70.0)
if LOCATION_JUMP_MAX_SPEED_MPS <= 0:
    raise ImproperlyConfigured("LOCATION_JUMP_MAX_SPEED_MPS must be positive, e.g. 70")
