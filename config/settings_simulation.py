"""Settings of the policy simulator (amk.insight.simulation): the ambulance's response by
municipality, the region's yearly number of arrests, and the page's limit.

The defaults are assumptions, stated in docs/simulation.md: an ambulance median of 8 minutes
(IQR 5 minutes) from the alert, and about 1,150 out-of-hospital arrests a year in the region
(some 5,000 a year in Denmark, by the Danish Cardiac Arrest Registry, in proportion to the
region's population). Give the region's own figures per municipality as JSON:
``SIMULATION_EMS_BY_MUNICIPALITY='{"0751": [420, 240], "0665": [660, 360]}'`` (code: median and
interquartile range in seconds).
"""

import environ

env = environ.Env()

SIMULATION_EMS_MEDIAN_S = env.float("SIMULATION_EMS_MEDIAN_S", default=480.0)
SIMULATION_EMS_IQR_S = env.float("SIMULATION_EMS_IQR_S", default=300.0)
SIMULATION_EMS_BY_MUNICIPALITY = env.json("SIMULATION_EMS_BY_MUNICIPALITY", default={})
SIMULATION_INCIDENTS_PER_YEAR = env.float("SIMULATION_INCIDENTS_PER_YEAR", default=1150.0)
# The console page runs the simulation within the request: at most this many incidents.
SIMULATION_PAGE_MAX_INCIDENTS = env.int("SIMULATION_PAGE_MAX_INCIDENTS", default=2000)
