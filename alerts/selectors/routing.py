"""Travel-time estimates for responders: how long from one point to another.

The interface is ``Router.seconds(origins, destinations)``: a matrix of seconds, so that a
routing engine can answer one table request for a whole incident. The default,
``StraightLineRouter``, needs no engine: the straight-line (great-circle) distance times the
policy's detour factor, divided by its travel speed. ``settings.ALERTS_ROUTER`` names the class
to use (dotted path); a class is built with the incident's policy.
"""

import math
from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np
from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils.module_loading import import_string

from alerts.models import DispatchPolicy

EARTH_RADIUS_M = 6_371_008.8


# A float or a numpy array of them: the formulas below serve one pair of points (the roles of
# a live incident) and whole arrays at once (the policy simulator, amk.insight.simulation).
Number = TypeVar("Number", float, np.ndarray)


def haversine_m(lon1: Number, lat1: Number, lon2: Number, lat2: Number) -> Number:
    """Great-circle distance in metres between WGS 84 points given in degrees (haversine;
    within 0.5 % of the ellipsoid over the few kilometres a responder travels)."""
    lon1, lat1, lon2, lat2 = (np.radians(v) for v in (lon1, lat1, lon2, lat2))
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))


def straight_line_m(a: Point, b: Point) -> float:
    """``haversine_m`` for two points, in plain floats (a live incident's roles compare
    hundreds of pairs; numpy's per-call overhead would cost more than the sums)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a.x, a.y, b.x, b.y))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def travel_seconds(distance_m: Number, *, speed_mps: Number, detour_factor: float) -> Number:
    """The estimate of every router without an engine: the straight line × the detour factor
    (the way by streets is longer), at the given speed. Shared by the live roles and the
    simulator so that both estimate a responder's way alike."""
    if isinstance(speed_mps, np.ndarray):
        return distance_m * max(detour_factor, 1.0) / np.maximum(speed_mps, 0.1)
    return distance_m * max(detour_factor, 1.0) / max(speed_mps, 0.1)


class Router(Protocol):
    def __init__(self, policy: DispatchPolicy) -> None: ...

    def seconds(self, origins: Sequence[Point], destinations: Sequence[Point]) -> list[list[float]]:
        """Travel time in seconds from each origin (rows) to each destination (columns)."""
        ...


class StraightLineRouter:
    """time = straight-line distance × detour factor / speed, from the policy."""

    def __init__(self, policy: DispatchPolicy) -> None:
        self.speed_mps = policy.travel_speed_mps
        self.detour_factor = policy.detour_factor

    def seconds(self, origins: Sequence[Point], destinations: Sequence[Point]) -> list[list[float]]:
        return [
            [
                float(
                    travel_seconds(
                        straight_line_m(o, d),
                        speed_mps=self.speed_mps,
                        detour_factor=self.detour_factor,
                    )
                )
                for d in destinations
            ]
            for o in origins
        ]


def router_for(policy: DispatchPolicy) -> Router:
    """The configured router (``settings.ALERTS_ROUTER``), built with this policy."""
    path = getattr(settings, "ALERTS_ROUTER", "alerts.selectors.routing.StraightLineRouter")
    router: Router = import_string(path)(policy)
    return router
