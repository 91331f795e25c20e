"""The statistics and coverage pages in a real browser (Playwright, Debian's Chromium): the
server-drawn charts and the table render, the coverage map draws its squares, and the board
offers coverage as a layer. Screenshots go to the test's tmp dir (and to CONSOLE_SCREENSHOTS,
e.g. docs/screenshots, when set)."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.gis.geos import Point

from amk.insight.coverage import coverage_refresh
from tests.amk.test_insight_statistics import known_incidents  # noqa: F401  a fixture
from tests.browser.conftest import log_in, make_dispatcher, shot
from tests.factories import AARHUS_C, DefibrillatorFactory, IncidentFactory, VolunteerFactory

RANDERS = (10.0364, 56.4607)
SILKEBORG = (9.5450, 56.1697)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("reference_geography")]


def _manager():
    user = make_dispatcher()
    user.user_permissions.add(Permission.objects.get(codename="view_statistics"))
    return user


def _no_errors(page) -> list:
    errors: list = []
    page.on("pageerror", lambda error: errors.append(error))  # noqa: PLW0108  see test_board_browser
    return errors


@pytest.mark.usefixtures("known_incidents")
def test_statistics_page_renders_charts_and_table(live_server, browser_page, tmp_path):
    from playwright.sync_api import expect

    page = browser_page
    errors = _no_errors(page)
    _manager()
    log_in(page, live_server)
    page.click("nav.mainnav >> text=Statistik")
    page.select_option("#id_group_by", "municipality")
    page.click("#statistics-filters button[type=submit]")
    page.wait_for_url("**/console/statistics/?*group_by=municipality*")
    expect(page.locator("#statistics-charts svg")).to_have_count(2)
    assert page.locator("#statistics-charts svg rect.bar").count() >= 6
    expect(page.locator("[data-stat=incidents]")).to_have_text("5")
    expect(page.locator('tr[data-group="Silkeborg"] [data-col=incidents]')).to_have_text("2")
    expect(page.locator('tr[data-group="Aarhus"] [data-col=first_alert_median]')).to_have_text(
        "0:40"
    )
    box = page.locator("#statistics-charts svg").first.bounding_box()
    assert box is not None
    assert box["width"] > 300
    path = tmp_path / "statistics.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    shot(page, "statistics")
    assert not errors


def test_coverage_page_draws_the_squares(live_server, browser_page, settings, tmp_path):
    from playwright.sync_api import expect

    settings.COVERAGE_CELL_M = 2000  # a coarser grid: the same page, fewer squares to draw
    settings.COVERAGE_MIN_PEOPLE = 5
    # Many in Aarhus, some in Randers, too few in Silkeborg (drawn as "<5").
    for where, n in ((AARHUS_C, 30), (RANDERS, 12), (SILKEBORG, 4)):
        for i in range(n):
            VolunteerFactory(location=Point(where[0] + 0.002 * (i % 5), where[1], srid=4326))
    DefibrillatorFactory()
    cells = coverage_refresh()
    assert cells > 3000
    page = browser_page
    errors = _no_errors(page)
    _manager()
    log_in(page, live_server)
    page.click("nav.mainnav >> text=Dækning")
    page.wait_for_url("**/console/coverage/")
    expect(page.locator("#coverage-map[data-loaded='1']")).to_have_count(1)
    assert int(page.locator("#coverage-map").get_attribute("data-cells")) == cells
    expect(page.locator("#coverage-map canvas")).to_have_count(1)
    assert page.locator("#coverage-municipalities tbody tr").count() == 19
    expect(page.locator("#coverage-chart svg polyline.line")).to_have_count(3)
    page.select_option("#coverage-hour", "12")
    expect(page.locator("#coverage-map[data-loaded='1']")).to_have_count(1)
    page.select_option("#coverage-hour", "")
    page.select_option("#coverage-radius", "2000")
    expect(page.locator("#coverage-map[data-loaded='1']")).to_have_count(1)
    path = tmp_path / "coverage.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    shot(page, "coverage")

    # The board offers the same squares as a layer to switch on.
    incident = IncidentFactory()
    page.goto(f"{live_server.url}/console/incidents/{incident.pk}/")
    toggle = page.get_by_label("Dækning (frivillige inden for 1 km)")
    with page.expect_response(lambda r: "/console/coverage.json" in r.url) as response:
        toggle.check()
    assert response.value.status == 200
    assert not errors
