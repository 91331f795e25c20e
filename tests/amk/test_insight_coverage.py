"""The coverage grid (amk.insight.coverage): squares over the region, counts of now and by hour
from a known placement of volunteers and AEDs, and k-suppression in the layer, page and CSV."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Permission
from django.contrib.gis.geos import Point
from django.urls import reverse
from django.utils import timezone

from amk.insight.coverage import coverage_grid_build, coverage_refresh
from amk.insight.coverage_read import coverage_by_area, coverage_cells
from amk.models import CoverageCell
from tests.factories import AARHUS_C, DefibrillatorFactory, DispatcherFactory, VolunteerFactory
from volunteers.models import Volunteer

pytestmark = pytest.mark.usefixtures("reference_geography")

# A field near Kjellerup, well away from Aarhus: the suppressed volunteers stand there.
REMOTE = (9.4300, 56.2900)
K = 5


@pytest.fixture
def grid(settings):
    settings.COVERAGE_MIN_PEOPLE = K
    settings.COVERAGE_CELL_M = 1000
    return coverage_grid_build()


def _cell_at(lon: float, lat: float) -> CoverageCell:
    return CoverageCell.objects.get(square__contains=Point(lon, lat, srid=4326))


def _volunteers(n: int, where) -> list:
    return [VolunteerFactory(location=Point(*where, srid=4326)) for _ in range(n)]


def test_grid_covers_the_region_in_squares_of_a_kilometre(grid):
    # Region Midtjylland is about 13,000 km²: one square per km² whose centre lies in it.
    assert 12_000 < grid < 14_500
    cell = _cell_at(*AARHUS_C)
    assert cell.municipality.name == "Aarhus"
    assert cell.code.startswith("1000m:E")


def test_counts_now_and_by_hour(grid):
    _volunteers(8, AARHUS_C)
    DefibrillatorFactory()  # at Aarhus C, 24/7
    DefibrillatorFactory(status="inactive")
    VolunteerFactory(is_available=False)
    VolunteerFactory(location_updated_at=timezone.now() - dt.timedelta(hours=3))  # stale
    now = timezone.now()
    assert coverage_refresh(now=now) == grid
    cell = _cell_at(*AARHUS_C)
    # Every square's centre is within 707 m of any point in it.
    assert (cell.within_1000, cell.within_2000, cell.aeds_1000) == (8, 8, 1)
    hour = timezone.localtime(now).hour
    assert cell.hourly_1000[hour] == 8
    assert cell.hourly_samples[hour] == 1
    assert cell.hourly_1000[(hour + 1) % 24] == 0
    assert CoverageCell.objects.filter(within_2000__gt=0).count() >= 9  # the 3×3 around
    assert sum(CoverageCell.objects.values_list("within_2000", flat=True)) < 8 * 30

    # Four go off duty: now is 4, the hour's running average (8 + 4) / 2.
    on_duty = Volunteer.objects.filter(
        is_available=True, location_updated_at__gte=now - dt.timedelta(hours=1)
    )
    Volunteer.objects.filter(pk__in=list(on_duty.values_list("pk", flat=True)[:4])).update(
        is_available=False
    )
    coverage_refresh(now=now + dt.timedelta(seconds=1))  # the same hour of day (not :59:59)
    cell.refresh_from_db()
    assert cell.within_2000 == 4
    assert cell.hourly_2000[hour] == pytest.approx(6.0)
    assert cell.hourly_samples[hour] == 2


def _assert_no_count_below_k(cells_json: list) -> int:
    shown = 0
    for _code, _bounds, n500, n1000, n2000, _aeds in cells_json:
        for n in (n500, n1000, n2000):
            assert n is None or n >= K
            shown += n is not None
    return shown


def test_squares_under_k_are_never_shown(client, grid):
    _volunteers(K - 1, REMOTE)
    _volunteers(K + 3, AARHUS_C)
    coverage_refresh()
    remote = _cell_at(*REMOTE)
    assert remote.within_2000 == K - 1  # stored, so the test below is not vacuous
    manager = DispatcherFactory(username="leder")
    manager.user_permissions.add(Permission.objects.get(codename="view_statistics"))
    client.force_login(manager)

    for query in ({}, {"hour": timezone.localtime().hour}):
        data = client.get(reverse("amk:coverage_json"), query).json()
        assert data["k"] == K
        by_code = {c[0]: c for c in data["cells"]}
        assert by_code[remote.code][2:5] == [None, None, None]
        assert by_code[_cell_at(*AARHUS_C).code][4] == K + 3
        assert _assert_no_count_below_k(data["cells"]) > 0

    rows = list(
        csv.DictReader(io.StringIO(client.get(reverse("amk:coverage_csv")).content.decode()))
    )
    remote_row = next(r for r in rows if r["cell"] == remote.code)
    assert [remote_row[f] for f in ("within_500", "within_1000", "within_2000")] == ["<5"] * 3
    for row in rows:
        for f in ("within_500", "within_1000", "within_2000"):
            assert row[f] == "<5" or int(row[f]) >= K

    page = client.get(reverse("amk:coverage")).content.decode()
    assert remote.code not in page  # the page lists areas; squares come only through the layer
    assert all(
        c.within_2000 is None for c in coverage_cells() if c.code == remote.code
    )  # the read model itself hides it
    # Municipalities show shares of squares reaching k, never counts of people.
    silkeborg = next(a for a in coverage_by_area(by="municipality") if a.name == "Silkeborg")
    assert silkeborg.covered_2000 == 0


def test_layer_is_for_dispatchers_too_and_checks_the_hour(client, db):
    client.force_login(DispatcherFactory(username="disp"))
    assert client.get(reverse("amk:coverage_json")).status_code == 200
    response = client.get(reverse("amk:coverage_json"), {"hour": "25"})
    assert response.status_code == 400
    assert "hour" in response.json()["errors"]
    assert client.get(reverse("amk:coverage")).status_code == 403


def test_beat_runs_the_refresh_through_a_worker(dispatch_worker, settings):
    """The schedule names the task the worker knows; a run counts the squares."""
    import time

    from amk.insight.tasks import coverage_refresh_task

    settings.COVERAGE_CELL_M = 5000  # a coarser grid: the same path, fewer squares
    entry = settings.CELERY_BEAT_SCHEDULE["coverage-refresh"]
    assert entry["task"] == coverage_refresh_task.name
    assert entry["schedule"] == settings.COVERAGE_REFRESH_S
    assert coverage_grid_build() > 400
    cell = CoverageCell.objects.filter(municipality__name="Aarhus").order_by("code").first()
    _volunteers(K, cell.centre.coords)
    coverage_refresh_task.delay()
    deadline = time.monotonic() + 60
    while CoverageCell.objects.get(pk=cell.pk).computed_at is None:
        assert time.monotonic() < deadline, "the worker did not refresh the coverage"
        time.sleep(0.2)
    cell.refresh_from_db()
    assert (cell.within_500, cell.within_2000) == (K, K)


def test_a_refresh_while_another_runs_does_nothing(db):
    """Beat may start a refresh while a slow one still runs: it must not count the hour twice."""
    import psycopg2
    from django.db import connection

    params = connection.get_connection_params()
    keys = ("database", "dbname", "user", "password", "host", "port")
    other = psycopg2.connect(**{k: params[k] for k in keys if params.get(k)})
    try:
        with other.cursor() as cursor:  # a transaction that holds the lock
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('amk.coverage_refresh'))")
            assert coverage_refresh() == 0
    finally:
        other.close()
    assert not CoverageCell.objects.exists()
