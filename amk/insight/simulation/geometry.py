"""Who is near each incident: the nearest volunteers and AEDs, as arrays (incidents × k).

Positions are metres on a local plane (``to_plane``): over a region of 150 km the plane is
within 0.1 % of the great-circle distance (alerts.selectors.routing.haversine_m), and it lets
the distances of 10,000 incidents to 12,000 volunteers be a few array operations, in chunks.
"""

from dataclasses import dataclass

import numpy as np

from alerts.selectors.routing import EARTH_RADIUS_M


def to_plane(lon: np.ndarray, lat: np.ndarray, *, lon0: float, lat0: float) -> np.ndarray:
    """(n, 2) metres east and north of (lon0, lat0): equirectangular at the region's latitude."""
    x = np.radians(np.asarray(lon) - lon0) * EARTH_RADIUS_M * np.cos(np.radians(lat0))
    y = np.radians(np.asarray(lat) - lat0) * EARTH_RADIUS_M
    return np.column_stack([x, y])


def nearest(
    points: np.ndarray, sites: np.ndarray, k: int, *, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """For each point, its k nearest sites: (distances sorted ascending, site indices), both
    (n, k); where there are fewer than k sites the rest is inf and -1."""
    n = len(points)
    dist = np.full((n, k), np.inf)
    index = np.full((n, k), -1, dtype=np.int64)
    take = min(k, len(sites))
    if take == 0 or n == 0:
        return dist, index
    sx, sy = sites[:, 0], sites[:, 1]
    for start in range(0, n, chunk):
        p = points[start : start + chunk]
        d2 = (p[:, 0:1] - sx) ** 2 + (p[:, 1:2] - sy) ** 2
        if take < len(sites):
            part = np.argpartition(d2, take - 1, axis=1)[:, :take]
        else:
            part = np.broadcast_to(np.arange(take), (len(p), take))
        part_d2 = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(part_d2, axis=1)
        dist[start : start + len(p), :take] = np.sqrt(np.take_along_axis(part_d2, order, axis=1))
        index[start : start + len(p), :take] = np.take_along_axis(part, order, axis=1)
    return dist, index


@dataclass
class Neighbourhood:
    """Around each of n incidents: the k nearest volunteers (distance_m, sorted) and the m
    nearest AEDs, with each volunteer's distance to each of those AEDs (``aed_leg_m``, n×k×m),
    the AEDs' distance to the patient and whether each is open at the incident's hour."""

    distance_m: np.ndarray  # (n, k); inf where no volunteer
    aed_leg_m: np.ndarray  # (n, k, m)
    aed_to_patient_m: np.ndarray  # (n, m); inf where no AED
    aed_open: np.ndarray  # (n, m) bool
    # (n, k): the volunteer is outside their quiet hours at the incident's hour (None: all are).
    volunteer_open: np.ndarray | None = None

    def via_m(self, search_radius_m: float) -> np.ndarray:
        """(n, k): each volunteer's shortest way patient-wards through an open AED within the
        search radius of the patient (straight lines); inf where there is none."""
        usable = self.aed_open & (self.aed_to_patient_m <= search_radius_m)
        total = self.aed_leg_m + self.aed_to_patient_m[:, None, :]
        total = np.where(usable[:, None, :], total, np.inf)
        if total.shape[2] == 0:
            return np.full(self.distance_m.shape, np.inf)
        return total.min(axis=2)


def neighbourhood(
    *,
    incident_xy: np.ndarray,
    incident_hour: np.ndarray,
    volunteer_xy: np.ndarray,
    aed_xy: np.ndarray,
    aed_open_by_hour: np.ndarray,
    k: int,
    m: int = 8,
    volunteer_open_by_hour: np.ndarray | None = None,
) -> Neighbourhood:
    """The arrays the model reads, from positions on the plane; ``*_open_by_hour`` (sites, 24)
    say whether each can be used at each hour of the day."""
    distance_m, vol_index = nearest(incident_xy, volunteer_xy, k)
    volunteer_open = None
    if volunteer_open_by_hour is not None and len(volunteer_xy):
        volunteer_open = volunteer_open_by_hour[np.maximum(vol_index, 0), incident_hour[:, None]]
    aed_d, aed_index = nearest(incident_xy, aed_xy, m)
    n = len(incident_xy)
    if len(aed_xy) == 0 or len(volunteer_xy) == 0:
        legs = np.full((n, k, aed_d.shape[1]), np.inf)
        return Neighbourhood(
            distance_m, legs, aed_d, np.zeros(aed_d.shape, dtype=bool), volunteer_open
        )
    safe_aed = np.maximum(aed_index, 0)
    aed_open = aed_open_by_hour[safe_aed, incident_hour[:, None]] & (aed_index >= 0)
    vol = volunteer_xy[np.maximum(vol_index, 0)]  # (n, k, 2)
    aed = aed_xy[safe_aed]  # (n, m, 2)
    legs = np.hypot(
        vol[:, :, None, 0] - aed[:, None, :, 0], vol[:, :, None, 1] - aed[:, None, :, 1]
    )
    legs = np.where((vol_index >= 0)[:, :, None], legs, np.inf)
    return Neighbourhood(distance_m, legs, aed_d, aed_open, volunteer_open)
