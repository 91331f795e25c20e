"""The console's search box in a real browser: typing an address (with a typo) and choosing it
with the keyboard fills both the address field and the pin."""

from pathlib import Path

import pytest

from amk.services.addresses import addresses_import
from tests.browser.conftest import log_in, make_dispatcher, shot, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("reference_geography")]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "addresses"


def test_typing_an_address_fills_the_address_field_and_the_pin(live_server, browser_page):
    page = browser_page
    make_dispatcher()
    addresses_import(path=FIXTURES / "adgangsadresser_mini.json")
    log_in(page, live_server)
    page.goto(f"{live_server.url}/console/incidents/new/")
    page.wait_for_function("window.hjMap !== undefined")
    page.fill("#place-q", "Hack Kampmans Plads 2")  # one n short
    page.wait_for_selector("#place-results li[role=option]")
    first = page.locator("#place-results li[role=option]").first
    assert "Hack Kampmanns Plads 2, 8000 Aarhus C" in first.inner_text()
    assert "adresse" in first.inner_text().lower()  # the kind, in Danish
    shot(page, "address_search")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('id_location').value !== ''")
    assert page.input_value("#id_address") == "Hack Kampmanns Plads 2, 8000 Aarhus C"
    lat, lon = (float(v) for v in page.input_value("#id_location").split(","))
    assert lat == pytest.approx(56.1535, abs=1e-4)
    assert lon == pytest.approx(10.2138, abs=1e-4)
    # A street keeps the box open for the house number.
    page.fill("#place-q", "Sondergade")
    page.wait_for_selector("#place-results li.active")
    page.keyboard.press("Enter")
    wait_for(lambda: page.input_value("#place-q").startswith("Søndergade "))
    assert page.input_value("#id_address") == ""  # the pin left the address it named
    page.wait_for_selector("#place-results li[role=option]")
    page.keyboard.type("3")
    page.wait_for_selector("#place-results li[role=option]:has-text('Søndergade 3, 8000 Aarhus C')")
    shot(page, "address_search_street")
    page.keyboard.press("Enter")
    wait_for(lambda: page.input_value("#id_address") == "Søndergade 3, 8000 Aarhus C")
