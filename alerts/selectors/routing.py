"""Travel-time estimates for responders: how long from one point to another.

The interface is ``Router.seconds(origins, destinations)``: a matrix of seconds, so that a
routing engine can answer one table request for a whole incident. The default,
``StraightLineRouter``, needs no engine: the straight-line (great-circle) distance times the
policy's detour factor, divided by its travel speed. ``settings.ALERTS_ROUTER`` names the class
to use (dotted path); a class is built with the incident's policy.
"""

import math
from collections.abc import Sequence
from typing import Protocol

from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils.module_loading import import_string

from alerts.models import DispatchPolicy

EARTH_RADIUS_M = 6_371_008.8


def straight_line_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres between two WGS 84 points (haversine; within 0.5 %
    of the ellipsoid over the few kilometres a responder travels)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a.x, a.y, b.x, b.y))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


class Router(Protocol):
    def __init__(self, policy: DispatchPolicy) -> None: ...

    def seconds(self, origins: Sequence[Point], destinations: Sequence[Point]) -> list[list[float]]:
        """Travel time in seconds from each origin (rows) to each destination (columns)."""
        ...


class StraightLineRouter:
    """time = straight-line distance × detour factor / speed, from the policy."""

    def __init__(self, policy: DispatchPolicy) -> None:
        self.metres_per_second = max(policy.travel_speed_mps, 0.1) / max(policy.detour_factor, 1.0)

    def seconds(self, origins: Sequence[Point], destinations: Sequence[Point]) -> list[list[float]]:
        return [
            [straight_line_m(o, d) / self.metres_per_second for d in destinations] for o in origins
        ]


def router_for(policy: DispatchPolicy) -> Router:
    """The configured router (``settings.ALERTS_ROUTER``), built with this policy."""
    path = getattr(settings, "ALERTS_ROUTER", "alerts.selectors.routing.StraightLineRouter")
    router: Router = import_string(path)(policy)
    return router
