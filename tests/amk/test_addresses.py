"""The address register (amk.models.addresses): import of DAWA extracts and replication events,
the search (typos, æ/ø/å), the synthetic demo set, against the real PostGIS."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from amk.models import (
    AccessAddress,
    AddressReplicationCursor,
    AddressStreet,
    AddressStreetName,
    Place,
)
from amk.selectors.addresses import (
    address_normalise,
    address_query_parse,
    address_search_local,
    location_search,
)
from amk.services.addresses import addresses_import
from amk.services.addresses_events import address_events_apply
from amk.services.addresses_synthetic import synthetic_addresses_generate
from config.exceptions import ApplicationError

pytestmark = pytest.mark.usefixtures("reference_geography")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "addresses"
HACK_KAMPMANNS = "Hack Kampmanns Plads 2, 8000 Aarhus C"


@pytest.fixture
def mini(db):
    return addresses_import(path=FIXTURES / "adgangsadresser_mini.json")


def _labels(query: str) -> list[str]:
    return [m.label for m in address_search_local(query=query)]


def test_normalise_in_python_matches_sql(db):
    samples = [
        "Hack Kampmanns Plads 2, 8000 Aarhus C",
        "ÅBOULEVARDEN 12",
        "Søndergade",
        "Æblehaven 3 st. tv.",
        "Ørnebjergvej",
        "H.C. Andersens Boulevard",
        "Café Ünter   Straße/Gade-Bro",
        "Kærvej 12B",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT amk_address_normalise(s) FROM unnest(%s::text[]) AS s", [samples])
        in_sql = [row[0] for row in cursor.fetchall()]
    assert in_sql == [address_normalise(s) for s in samples]
    assert address_normalise("Århus") == address_normalise("Aarhus") == "aarhus"
    assert address_normalise("Søndergade") == "soendergade"


def test_query_parse():
    parsed = address_query_parse(HACK_KAMPMANNS)
    assert parsed.words == "hack kampmanns plads aarhus c"
    assert parsed.house_number == "2"
    assert parsed.postcode == "8000"
    assert address_query_parse("Søndergade 12 b").house_number == "12B"
    assert address_query_parse("Søndergade 12B, 8700").postcode == "8700"
    # A leading number is no house number (there is no street before it yet).
    assert address_query_parse("8000 Aarhus").house_number is None


def test_import_mini_accounts_for_every_record(mini):
    assert mini.created == 5
    assert len(mini.skipped) == 2
    assert any("id is not a UUID" in s for s in mini.skipped)
    assert any("husnr" in s for s in mini.skipped)
    address = AccessAddress.objects.get(house_number="2", street_name="Hack Kampmanns Plads")
    assert str(address) == HACK_KAMPMANNS
    assert address.synthetic is False
    assert address.point.x == pytest.approx(10.2138)
    # Street names by code are remembered for replication events.
    assert AddressStreetName.objects.get(municipality_code="0751", street_code="0700").name == (
        "Søndergade"
    )
    again = addresses_import(path=FIXTURES / "adgangsadresser_mini.json")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)


def test_import_nested_ndjson_and_csv(db):
    nested = addresses_import(path=FIXTURES / "adgangsadresser_nested.ndjson")
    assert (nested.created, nested.skipped) == (2, [])
    provisional = AccessAddress.objects.get(house_number="22B")
    assert (provisional.street_name, provisional.status) == ("Nørregade", 3)
    assert provisional.point.y == pytest.approx(56.1592)
    flat = addresses_import(path=FIXTURES / "adgangsadresser.csv")
    assert flat.created == 2
    assert flat.skipped == ["record 3: no coordinates (x/y, adgangspunkt or etrs89koordinat)"]
    # ETRS89 / UTM 32 (EPSG:25832) transformed to WGS84.
    town_hall = AccessAddress.objects.get(street_name="Rådhuspladsen")
    assert town_hall.point.x == pytest.approx(10.2060, abs=1e-5)
    assert town_hall.point.y == pytest.approx(56.1510, abs=1e-5)


def test_import_errors_are_clear(db, tmp_path):
    with pytest.raises(ApplicationError, match="File not found"):
        addresses_import(path=tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": ')
    with pytest.raises(ApplicationError, match="not valid JSON"):
        addresses_import(path=broken)


def test_import_replace_deletes_real_addresses_not_in_the_file(mini):
    synthetic_addresses_generate(count=50, streets_per_postcode=2)
    addresses_import(path=FIXTURES / "adgangsadresser_nested.ndjson", replace=True)
    assert not AccessAddress.objects.filter(street_name="Hack Kampmanns Plads").exists()
    assert AccessAddress.objects.filter(synthetic=False).count() == 2
    assert AccessAddress.objects.filter(synthetic=True).count() == 50


def test_search_finds_the_address_typed_in_full_with_typos_and_spellings(mini):
    assert _labels(HACK_KAMPMANNS)[0] == HACK_KAMPMANNS
    assert _labels("Hack Kampmans Plads 2")[0] == HACK_KAMPMANNS  # typo
    assert _labels("hack kampmanns plads 2 århus")[0] == HACK_KAMPMANNS  # Århus for Aarhus
    assert _labels("Hack Kamp")[0] == "Hack Kampmanns Plads, 8000 Aarhus C"  # as typed: street
    for spelling in ("Søndergade 1", "Sondergade 1", "Soendergade 1", "SØNDERGADE 1, 8000"):
        assert _labels(spelling)[0] == "Søndergade 1, 8000 Aarhus C", spelling
    # A house number being typed: its prefix finds 3, and the exact number comes first.
    assert _labels("Søndergade 3") == ["Søndergade 3, 8000 Aarhus C"]
    assert _labels("Aboulevarden 12")[0] == "Åboulevarden 12, 8000 Aarhus C"
    # Supplementary town names are part of the address and searchable.
    assert _labels("Kirkevej 4 Lyngby") == ["Kirkevej 4, Lyngby, 8544 Mørke"]
    # A postcode that does not match filters the street out.
    assert _labels("Søndergade 1, 8700") == []
    assert _labels("Zzyzxvej 1") == []
    assert _labels("") == []
    assert _labels("12") == []


def test_search_is_street_then_indexed_house_number(mini, django_assert_num_queries):
    # The planner setting and the search, with the municipalities, in one query string.
    with django_assert_num_queries(1):
        matches = address_search_local(query=HACK_KAMPMANNS)
    assert matches[0].kind == "address"
    assert matches[0].municipality == "Aarhus"
    assert matches[0].address == HACK_KAMPMANNS


def test_events_applied_in_order_once(mini):
    summary = address_events_apply(path=FIXTURES / "haendelser.json")
    assert summary.applied == 7
    assert [s.split(":")[0] for s in summary.skipped] == [
        "event 107",  # operation "upsert"
        "event 108 (adgangsadresse insert)",  # street code 9999 has no name
    ]
    assert summary.cursors == {"adgangsadresse": 108, "vejstykke": 105, "postnummer": 106}
    inserted = AccessAddress.objects.get(pk="0a3f5000-0301-4000-8000-000000000000")
    assert str(inserted) == "Rådhuspladsen 2, 8000 Aarhus C"  # names from vejstykke 101
    assert inserted.point.x == pytest.approx(10.2060, abs=1e-5)
    assert AccessAddress.objects.get(pk="0a3f5000-0003-4000-8000-000000000000").house_number == (
        "3A"
    )
    assert not AccessAddress.objects.filter(street_name="Åboulevarden").exists()
    renamed = AccessAddress.objects.get(street_code="0300")
    assert str(renamed) == "Kirkebakken 4, Lyngby, 8544 Mørke By"
    # The search follows: renamed, deleted and inserted streets.
    assert _labels("Kirkebakken 4") == ["Kirkebakken 4, Lyngby, 8544 Mørke By"]
    assert _labels("Kirkevej 4") == []
    assert _labels("Aboulevarden 12") == []
    assert _labels("Raadhuspladsen 2")[0] == "Rådhuspladsen 2, 8000 Aarhus C"
    assert AddressStreet.objects.filter(street_name="Åboulevarden").count() == 0
    # The same file again changes nothing.
    again = address_events_apply(path=FIXTURES / "haendelser.json")
    assert (again.applied, again.already_applied) == (0, 8)
    assert AccessAddress.objects.count() == 6


def test_events_after_an_extract_start_at_its_sequence_number(db):
    addresses_import(path=FIXTURES / "adgangsadresser_mini.json", sequence_number=101)
    assert AddressReplicationCursor.objects.get(entity="vejstykke").sequence_number == 101
    summary = address_events_apply(path=FIXTURES / "haendelser.json")
    assert summary.already_applied == 2  # 99 and 101
    assert not AccessAddress.objects.filter(pk="0a3f5000-0304-4000-8000-000000000000").exists()
    # Street 0800 was named before the extract's sequence number: event 102 has no name.
    assert any(s.startswith("event 102") for s in summary.skipped)


def test_events_entity_must_be_known(db):
    with pytest.raises(ApplicationError, match="entity must be one of"):
        address_events_apply(path=FIXTURES / "haendelser.json", entity="bygning")


def test_synthetic_addresses_are_marked_and_searchable(db):
    made = synthetic_addresses_generate(count=3000, streets_per_postcode=20)
    assert made == 3000
    assert AccessAddress.objects.filter(synthetic=False).count() == 0
    assert AddressStreet.objects.filter(synthetic=True).count() > 100
    matches = address_search_local(query="Sondergade 2, 8000")
    assert matches[0].label == "Søndergade 2, 8000 Aarhus C"
    assert matches[0].synthetic is True
    assert matches[0].in_service_region is True
    # Generating again replaces the set (same ids: md5 of postcode, street and number).
    assert synthetic_addresses_generate(count=1000, streets_per_postcode=20) == 1000
    assert AccessAddress.objects.count() == 1000


def test_location_search_puts_addresses_and_places_together(mini):
    call_command("load_demo_addresses", count=0, verbosity=0)
    assert Place.objects.filter(name="Dokk1").exists()
    dokk1 = location_search(query="Dokk1").matches
    assert dokk1[0].kind == "place"
    assert dokk1[0].label == "Dokk1"
    full = location_search(query=HACK_KAMPMANNS).matches
    assert full[0].kind == "address"
    assert full[0].label == HACK_KAMPMANNS
    for town in ("Aarhus", "Århus"):
        matches = location_search(query=town).matches
        assert matches[0].kind == "place"
        assert matches[0].label in ("Aarhus", "Århus")
        assert any(m.kind == "street" for m in matches), town
        assert len(matches) <= 10


def test_load_demo_addresses_command(db):
    call_command("load_demo_addresses", count=500, verbosity=0)
    assert AccessAddress.objects.filter(synthetic=True).count() == 500
    real = AccessAddress.objects.filter(synthetic=False)
    assert HACK_KAMPMANNS in {str(a) for a in real}
    assert (settings.REFERENCE_DATA_DIR / "addresses" / "README.md").is_file()


def test_import_addresses_command(db, capsys):
    call_command(
        "import_addresses",
        str(FIXTURES / "adgangsadresser_mini.json"),
        events=str(FIXTURES / "haendelser.json"),
        sequence_number=100,
    )
    out = capsys.readouterr()
    assert "addresses: created 5" in out.out
    assert "events: applied 6, already applied 1" in out.out
    assert "event 107" in out.err


def test_a_better_matching_street_without_the_number_is_not_hidden_behind_another_town(
    mini, tmp_path
):
    # Søndergade 10 exists in Horsens only; the dispatcher typed Aarhus: the Aarhus street
    # comes first (to pick and type the number), Horsens' address after it.
    horsens = json.loads((FIXTURES / "adgangsadresser_mini.json").read_text())[1] | {
        "id": "0a3f5000-0099-4000-8000-000000000000",
        "husnr": "10",
        "postnr": "8700",
        "postnrnavn": "Horsens",
        "kommunekode": "0615",
        "x": 9.8503,
        "y": 55.8607,
    }
    extract = tmp_path / "horsens.json"
    extract.write_text(json.dumps([horsens]))
    addresses_import(path=extract)
    matches = address_search_local(query="Søndergade 10 Aarhus")
    assert [(m.kind, m.label) for m in matches[:2]] == [
        ("street", "Søndergade, 8000 Aarhus C"),
        ("address", "Søndergade 10, 8700 Horsens"),
    ]
    assert matches[0].address == ""  # a street fills the pin, not the address field
