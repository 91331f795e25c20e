import datetime as dt
import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from defibrillators.models import Defibrillator
from tests.factories import DefibrillatorFactory, point

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def import_aeds(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_aeds", str(path), *args, stdout=out, stderr=out)
    return out.getvalue()


def test_overpass_json_maps_osm_tags():
    output = import_aeds(FIXTURES / "aeds_overpass.json")
    assert "created 3, updated 0, unchanged 0, skipped 6" in output
    domkirken = Defibrillator.objects.get(source="osm", source_id="node/1001")
    assert domkirken.name == "Hjertestarter Aarhus Domkirke"
    assert domkirken.location.coords == (10.2107, 56.1572)
    assert domkirken.placement == "I våbenhuset ved hovedindgangen"
    assert domkirken.indoor is True
    assert domkirken.floor == "0"
    assert domkirken.access == Defibrillator.Access.RESTRICTED  # access=customers
    assert domkirken.opening_hours == "Mo-Sa 09:30-16:00"
    assert domkirken.address == "Store Torv 1, 8000 Aarhus C"
    assert (domkirken.owner_name, domkirken.owner_phone) == ("Aarhus Domsogn", "+45 86 20 54 00")
    assert domkirken.source_tags["addr:city"] == "Aarhus C"
    svoemmehal = Defibrillator.objects.get(source="osm", source_id="way/2002")
    assert svoemmehal.name == "Randers Svømmehal"  # no name: the operator
    assert svoemmehal.location.coords == (10.0364, 56.4607)  # a way's center
    assert (svoemmehal.indoor, svoemmehal.access) == (False, "public")
    unnamed = Defibrillator.objects.get(source="osm", source_id="node/1003")
    assert (unnamed.name, unnamed.access, unnamed.opening_hours) == (
        "Hjertestarter",
        "private",
        "24/7",
    )


def test_overpass_json_skips_malformed_elements_with_their_reason():
    output = import_aeds(FIXTURES / "aeds_overpass.json")
    assert "node/1004: opening_hours: 'hverdage 8-16' is not valid OSM syntax" in output
    assert "node/1005: lat/lon: 48.8584, 2.2945 is outside Denmark" in output
    assert "node/1006: lat/lon: missing or not numbers" in output
    assert "node/1007: access: unknown value 'delivery'" in output
    assert "node/1008: floor: longer than 20 characters" in output
    assert "node/1009: emergency: not tagged emergency=defibrillator" in output


def test_geojson_with_at_id_or_id_and_way_polygons():
    output = import_aeds(FIXTURES / "aeds.geojson")
    assert "created 2, updated 0, unchanged 0, skipped 2" in output
    silkeborg = Defibrillator.objects.get(source_id="node/3001")
    assert silkeborg.opening_hours == "Mo-Fr 06:00-21:00; Sa,Su 08:00-18:00"
    assert "@id" not in silkeborg.source_tags
    hallen = Defibrillator.objects.get(source_id="way/3002")
    assert hallen.name == "Viborg Hallen"
    assert hallen.location.x == pytest.approx(9.4005)
    assert "feature 3 (node/3003): lat/lon: 56.0, 4.0 is outside Denmark" in output
    assert "feature 4 (no id): @id: '' is not an OSM id" in output


def test_csv_imports_every_column_and_skips_bad_rows():
    output = import_aeds(FIXTURES / "aeds.csv")
    assert "created 3, updated 0, unchanged 0, skipped 7" in output
    brugsen = Defibrillator.objects.get(source="csv", source_id="hs-0001")
    assert brugsen.name == "Hjertestarter Brugsen Ry"
    assert brugsen.cabinet_code == "1234"
    assert brugsen.battery_expires_on == dt.date(2027, 6, 30)
    assert brugsen.pads_expire_on == dt.date(2026, 3, 31)
    assert brugsen.indoor is False
    assert brugsen.owner_phone == "+4586891000"
    hallen = Defibrillator.objects.get(source_id="hs-0002")
    assert (hallen.access, hallen.floor, hallen.battery_expires_on) == ("restricted", "0", None)
    assert Defibrillator.objects.get(source_id="hs-0008").status == "inactive"
    for expected in (
        "row 4 (hs-0003): battery_expires_on: '2027-02-30' is not a date",
        "row 5 (hs-0004): lat/lon: missing or not numbers ('nord', 'øst')",
        "row 6 (hs-0005): access: unknown value 'members only'",
        "row 7 (hs-0006): status: 'broken' is not active/inactive",
        "row 8 (hs-0007): floor: longer than 20 characters",
        "row 9 (no source_id): source_id: empty",
        "row 10 (hs-0001): duplicate of row 2 (hs-0001)",
    ):
        assert expected in output


def test_semicolon_csv_is_detected():
    assert "created 2" in import_aeds(FIXTURES / "aeds_semicolon.csv")
    assert Defibrillator.objects.get(source_id="sc-2").access == "public"  # permissive


def test_reimport_updates_instead_of_duplicating(tmp_path):
    import_aeds(FIXTURES / "aeds.csv")
    assert "created 0, updated 0, unchanged 3, skipped 7" in import_aeds(FIXTURES / "aeds.csv")
    changed = tmp_path / "aeds.csv"
    changed.write_text(
        (FIXTURES / "aeds.csv").read_text().replace("Hjertestarter Hallen", "Ørnhøj Hallen AED")
    )
    assert "created 0, updated 1, unchanged 2" in import_aeds(changed)
    assert Defibrillator.objects.filter(source="csv").count() == 3
    assert Defibrillator.objects.get(source_id="hs-0002").name == "Ørnhøj Hallen AED"


def test_osm_reimport_keeps_what_osm_does_not_know():
    import_aeds(FIXTURES / "aeds_overpass.json")
    Defibrillator.objects.filter(source_id="node/1001").update(cabinet_code="4321")
    assert "unchanged 3" in import_aeds(FIXTURES / "aeds_overpass.json")
    assert Defibrillator.objects.get(source_id="node/1001").cabinet_code == "4321"


def test_stored_rows_survive_a_bad_file(tmp_path):
    stored = DefibrillatorFactory(
        source="csv", source_id="hs-0003", name="Gemt", location=point(10.0, 56.0)
    )
    bad_rows = tmp_path / "bad.csv"
    bad_rows.write_text(
        "source_id,name,lat,lon,battery_expires_on\nhs-0003,Overskrevet,56.1,9.9,31-12-2027\n"
    )
    assert "skipped 1" in import_aeds(bad_rows)
    no_columns = tmp_path / "columns.csv"
    no_columns.write_text("id,navn\nhs-0003,Overskrevet\n")
    with pytest.raises(CommandError, match="missing column"):
        import_aeds(no_columns)
    broken_json = tmp_path / "broken.json"
    broken_json.write_text('{"elements": [')
    with pytest.raises(CommandError, match="not valid JSON"):
        import_aeds(broken_json)
    stored.refresh_from_db()
    assert (stored.name, stored.location.coords) == ("Gemt", (10.0, 56.0))


def test_format_detection_and_option(tmp_path):
    overpass_as_json = tmp_path / "export.json"
    shutil.copy(FIXTURES / "aeds_overpass.json", overpass_as_json)
    assert "as osm-json" in import_aeds(overpass_as_json)
    geojson_as_json = tmp_path / "export2.json"
    shutil.copy(FIXTURES / "aeds.geojson", geojson_as_json)
    assert "as geojson" in import_aeds(geojson_as_json)
    csv_as_txt = tmp_path / "export.txt"
    shutil.copy(FIXTURES / "aeds_semicolon.csv", csv_as_txt)
    assert "as csv" in import_aeds(csv_as_txt, "--format", "csv")


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="File not found"):
        import_aeds(tmp_path / "nothing.csv")
