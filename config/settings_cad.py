"""Settings of the CAD integration (amk.cad): the API's rate per key and the callbacks to the
CAD (timeout, backoff, how long to keep trying, the signature's replay window)."""

import environ

env = environ.Env()

# Requests per API key (DRF rate syntax); a CAD sends a handful per incident.
CAD_API_THROTTLE_RATE = env.str("CAD_API_THROTTLE_RATE", default="600/minute")
# One callback POST may take this long before it is an outcome unknown (retried).
CAD_CALLBACK_TIMEOUT_S = env.float("CAD_CALLBACK_TIMEOUT_S", default=5.0)
# Retries wait base × 2^(attempt-1) s, at most the cap; given up after CAD_CALLBACK_GIVE_UP_S.
CAD_CALLBACK_BACKOFF_S = env.float("CAD_CALLBACK_BACKOFF_S", default=2.0)
CAD_CALLBACK_BACKOFF_MAX_S = env.float("CAD_CALLBACK_BACKOFF_MAX_S", default=300.0)
CAD_CALLBACK_GIVE_UP_S = env.int("CAD_CALLBACK_GIVE_UP_S", default=24 * 3600)
# A CAD should refuse a callback whose timestamp is further than this from its clock
# (amk.cad.signing.callback_verify's default).
CAD_CALLBACK_REPLAY_WINDOW_S = env.int("CAD_CALLBACK_REPLAY_WINDOW_S", default=300)
# The schema's names for the two sets of "state": the incident's (CAD API) and the alert's
# (the volunteers' API keeps the name it had before the CAD API).
CAD_ENUM_NAME_OVERRIDES = {
    "IncidentStateEnum": "amk.models.incident.Incident.State",
    "AlertOutputStateEnum": "alerts.models.Alert.State",
}
