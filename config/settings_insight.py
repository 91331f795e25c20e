"""Settings of the insight pages (amk.insight): activation statistics and the coverage map.

Imported by name into config/settings.py. The coverage grid shows how many volunteers could be
alerted around each square of the region; counts below ``COVERAGE_MIN_PEOPLE`` are never shown,
so that nobody can be located from the map.
"""

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

# k: a cell, area or municipality with fewer people than this shows "<k", never the number.
COVERAGE_MIN_PEOPLE = env.int("COVERAGE_MIN_PEOPLE", default=5)
# The side of a grid square in metres (UTM zone 32N, EPSG:25832).
COVERAGE_CELL_M = env.int("COVERAGE_CELL_M", default=1000)
# How often beat recomputes the counts of "now" (and folds them into the by-hour averages).
COVERAGE_REFRESH_S = env.int("COVERAGE_REFRESH_S", default=600)
# The by-hour figures are running averages over about this many samples per hour of day
# (6 refreshes an hour x 7 days: roughly the last week), never a history of positions.
COVERAGE_HOUR_SAMPLES = env.int("COVERAGE_HOUR_SAMPLES", default=42)
# The dispatch centre an incident is counted under when its creator recorded none (the CAD
# integration names its own centre).
DISPATCH_CENTRE_DEFAULT = env.str("DISPATCH_CENTRE_DEFAULT", default="AMK Midtjylland")

if COVERAGE_MIN_PEOPLE < 1:
    raise ImproperlyConfigured("COVERAGE_MIN_PEOPLE must be at least 1, e.g. 5")
if not 100 <= COVERAGE_CELL_M <= 10_000:
    raise ImproperlyConfigured("COVERAGE_CELL_M must be from 100 to 10000 (metres)")
if COVERAGE_REFRESH_S < 60 or COVERAGE_HOUR_SAMPLES < 1:
    raise ImproperlyConfigured("COVERAGE_REFRESH_S must be >= 60 and COVERAGE_HOUR_SAMPLES >= 1")
