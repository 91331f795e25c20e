"""The policy simulator's page in a real browser: a manager runs two policies and sees the
table and the plots side by side."""

import random

import pytest
from django.contrib.auth.models import Permission

from tests.browser.conftest import log_in, make_dispatcher, shot
from tests.factories import AARHUS_C, DefibrillatorFactory, IncidentFactory, VolunteerFactory, point

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("reference_geography")]


def test_a_manager_runs_policies_side_by_side(live_server, browser_page):
    page = browser_page
    manager = make_dispatcher("leder")
    manager.user_permissions.add(
        Permission.objects.get(codename="view_statistics", content_type__app_label="amk")
    )
    rng = random.Random(5)
    near = lambda s: point(AARHUS_C[0] + rng.uniform(-s, s), AARHUS_C[1] + rng.uniform(-s, s) / 2)  # noqa: E731
    for _ in range(40):
        VolunteerFactory(location=near(0.03))
    for _ in range(5):
        DefibrillatorFactory(location=near(0.03))
    for _ in range(10):
        IncidentFactory(location=near(0.02))

    log_in(page, live_server, "leder")
    page.goto(f"{live_server.url}/console/simulation/")
    boxes = page.locator("#simulation-form input[type=checkbox]")
    assert boxes.count() == 6
    # Keep two: today's default and the 7-nearest replace policy.
    for value in ["hjertelober", "three_waves", "replace12", "waves10"]:
        page.uncheck(f"#simulation-form input[value={value}]")
    page.fill("#id_incidents", "300")
    page.select_option("#id_source", "past")
    page.click("#simulation-form button[type=submit]")
    page.wait_for_selector("#simulation-result")
    assert page.locator("#simulation-result tbody tr").count() == 2
    assert page.locator("#simulation-result svg").count() == 4
    shot(page, "policy_simulator")
