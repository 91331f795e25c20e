"""What the coverage pages show, with the small counts suppressed.

A square whose "people" (volunteers within 2 km) number fewer than k (COVERAGE_MIN_PEOPLE)
shows no count of people at all, and any count below k in a square shown is "<k" (None here):
nobody can be located from the map, its layer or its CSV. Municipalities and local areas show
shares of squares reaching k, never counts of people.
"""

import dataclasses

from django.conf import settings
from django.db import connection

RADII = (500, 1000, 2000)


def min_people() -> int:
    return settings.COVERAGE_MIN_PEOPLE


def _suppressed(value: int | None, k: int) -> int | None:
    return value if value is not None and value >= k else None


@dataclasses.dataclass(frozen=True)
class CellView:
    code: str
    south: float
    west: float
    north: float
    east: float
    municipality: str
    local_area: str
    within_500: int | None
    within_1000: int | None
    within_2000: int | None
    aeds_1000: int

    def as_list(self) -> list:
        """Compact for the map layer: bounds, the three counts (None: fewer than k), AEDs."""
        return [
            self.code,
            [round(self.south, 5), round(self.west, 5), round(self.north, 5), round(self.east, 5)],
            self.within_500,
            self.within_1000,
            self.within_2000,
            self.aeds_1000,
        ]


def coverage_cells(*, hour: int | None = None) -> list[CellView]:
    """Every square with its counts now, or (``hour`` 0-23) its averages for that local hour,
    rounded; suppressed below k."""
    if hour is not None and not 0 <= hour <= 23:
        raise ValueError("hour must be 0-23")
    if hour is None:
        counts = "c.within_500, c.within_1000, c.within_2000"
        params: list = []
    else:
        counts = (
            "round(c.hourly_500[%s])::int, round(c.hourly_1000[%s])::int, "
            "round(c.hourly_2000[%s])::int"
        )
        params = [hour + 1] * 3
    sql = f"""
        SELECT c.code, ST_YMin(c.square::box2d), ST_XMin(c.square::box2d),
               ST_YMax(c.square::box2d), ST_XMax(c.square::box2d),
               COALESCE(m.name, ''), COALESCE(la.name, ''), {counts}, c.aeds_1000
        FROM amk_coveragecell c
        LEFT JOIN amk_municipality m ON m.code = c.municipality_id
        LEFT JOIN volunteers_localarea la ON la.id = c.local_area_id
        ORDER BY c.code
    """  # noqa: S608  counts is one of two fixed texts
    k = min_people()
    cells = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for code, s, w, n, e, municipality, area, n500, n1000, n2000, aeds in cursor.fetchall():
            people = n2000 if n2000 >= k else None
            cells.append(
                CellView(
                    code=code,
                    south=s,
                    west=w,
                    north=n,
                    east=e,
                    municipality=municipality,
                    local_area=area,
                    within_500=_suppressed(n500, k) if people else None,
                    within_1000=_suppressed(n1000, k) if people else None,
                    within_2000=people,
                    aeds_1000=aeds,
                )
            )
    return cells


@dataclasses.dataclass(frozen=True)
class AreaCoverage:
    name: str
    cells: int
    covered_500: int
    covered_1000: int
    covered_2000: int
    with_aed: int

    def share(self, field: str) -> float:
        return getattr(self, field) / self.cells if self.cells else 0.0


def coverage_by_area(*, by: str) -> list[AreaCoverage]:
    """Per municipality or local area: its squares, and how many reach k volunteers within
    500 m / 1 km / 2 km now, and how many have an AED available within 1 km."""
    if by == "municipality":
        join = "JOIN amk_municipality g ON g.code = c.municipality_id"
    elif by == "local_area":
        join = "JOIN volunteers_localarea g ON g.id = c.local_area_id"
    else:
        raise ValueError(f"unknown area kind {by!r}")
    sql = f"""
        SELECT g.name, count(*),
               count(*) FILTER (WHERE c.within_500 >= %(k)s),
               count(*) FILTER (WHERE c.within_1000 >= %(k)s),
               count(*) FILTER (WHERE c.within_2000 >= %(k)s),
               count(*) FILTER (WHERE c.aeds_1000 > 0)
        FROM amk_coveragecell c {join}
        GROUP BY g.name ORDER BY g.name
    """  # noqa: S608  join is one of two fixed texts
    with connection.cursor() as cursor:
        cursor.execute(sql, {"k": min_people()})
        return [AreaCoverage(*row) for row in cursor.fetchall()]


def coverage_share_by_hour() -> dict[int, list[float]]:
    """Per radius, for each local hour 0-23, the share of the region's squares whose average
    reaches k volunteers."""
    sql = """
        SELECT h, avg((round(c.hourly_500[h]) >= %(k)s)::int),
               avg((round(c.hourly_1000[h]) >= %(k)s)::int),
               avg((round(c.hourly_2000[h]) >= %(k)s)::int)
        FROM amk_coveragecell c, generate_series(1, 24) h
        GROUP BY h ORDER BY h
    """
    shares: dict[int, list[float]] = {r: [0.0] * 24 for r in RADII}
    with connection.cursor() as cursor:
        cursor.execute(sql, {"k": min_people()})
        for h, s500, s1000, s2000 in cursor.fetchall():
            for radius, value in zip(RADII, (s500, s1000, s2000), strict=True):
                shares[radius][h - 1] = float(value or 0.0)
    return shares


def coverage_status() -> dict:
    """When the counts were last computed, and over how many squares."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), max(computed_at) FROM amk_coveragecell")
        cells, computed_at = cursor.fetchone()
    return {"cells": cells, "computed_at": computed_at, "k": min_people()}
