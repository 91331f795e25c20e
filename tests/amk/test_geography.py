import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from amk.models import Municipality, Place, Postcode, Region
from amk.selectors.territory import municipality_containing, place_search
from tests.factories import AARHUS_C, point

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reference_geography")]

MIDTJYLLAND = [
    "0615", "0657", "0661", "0665", "0671", "0706", "0707", "0710", "0727", "0730",
    "0740", "0741", "0746", "0751", "0756", "0760", "0766", "0779", "0791",
]  # fmt: skip
COPENHAGEN = (12.568, 55.676)
KATTEGAT = (11.2, 56.3)  # open sea between Djursland and Zealand


def test_counts_match_the_dagi_files():
    assert Region.objects.count() == 5
    assert Municipality.objects.count() == 99
    assert Postcode.objects.count() == 592
    midtjylland = Municipality.objects.filter(region_id="1082").values_list("code", flat=True)
    assert sorted(midtjylland) == MIDTJYLLAND
    assert not Municipality.objects.filter(region__isnull=True).exists()


def test_parts_are_unioned_into_one_2d_multipolygon_per_code():
    samsoe = Municipality.objects.get(code="0741")
    assert samsoe.area.geom_type == "MultiPolygon"
    assert len(Region.objects.get(code="1082").area) > 1  # islands: Samsø, Endelave, Tunø…
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ST_NDims(area), GeometryType(area) FROM amk_municipality "
            "UNION SELECT DISTINCT ST_NDims(area), GeometryType(area) FROM amk_region "
            "UNION SELECT DISTINCT ST_NDims(area), GeometryType(area) FROM amk_postcode"
        )
        assert cursor.fetchall() == [(2, "MULTIPOLYGON")]


def test_places_get_their_municipality_from_the_polygons():
    assert Place.objects.count() == 6871  # 7,063 features, 192 exact duplicates
    ry = Place.objects.get(name="Ry")
    assert ry.municipality_id == "0746"
    # The gazetteer's name_adm2 says "Århus Kommune"; the polygon says Aarhus (0751).
    assert Place.objects.get(name="Århus C").municipality_id == "0751"


def test_a_second_run_changes_nothing():
    out = io.StringIO()
    before = Place.objects.count()
    call_command("load_geography", stdout=out, stderr=io.StringIO())
    assert "regions: created 0, updated 0, unchanged 5, skipped 0" in out.getvalue()
    assert "municipalities: created 0, updated 0, unchanged 99" in out.getvalue()
    assert "postcodes: created 0, updated 0, unchanged 592" in out.getvalue()
    assert "places: created 0, updated 0, unchanged 6871, skipped 192" in out.getvalue()
    assert Place.objects.count() == before


def test_a_changed_name_is_updated_and_nothing_else(tmp_path, settings):
    for name in ("regioner.geojson", "kommuner.geojson", "postnumre.geojson", "DK.geojson"):
        (tmp_path / name).write_bytes((settings.REFERENCE_DATA_DIR / name).read_bytes())
    regions = json.loads((tmp_path / "regioner.geojson").read_text())
    for feature in regions["features"]:
        if feature["properties"]["REGIONKODE"] == "1082":
            feature["properties"]["REGIONNAVN"] = "Region Midt"
    (tmp_path / "regioner.geojson").write_text(json.dumps(regions))
    settings.REFERENCE_DATA_DIR = tmp_path
    out = io.StringIO()
    call_command("load_geography", stdout=out, stderr=io.StringIO())
    assert "regions: created 0, updated 1, unchanged 4" in out.getvalue()
    assert Region.objects.get(code="1082").name == "Region Midt"


def test_a_missing_file_is_a_clear_error(tmp_path, settings):
    settings.REFERENCE_DATA_DIR = tmp_path
    with pytest.raises(CommandError, match=r"File not found: .*regioner\.geojson"):
        call_command("load_geography")


def test_municipality_containing_a_point():
    assert municipality_containing(point=point(*AARHUS_C)).code == "0751"
    assert municipality_containing(point=point(*COPENHAGEN)) is None
    outside = municipality_containing(point=point(*COPENHAGEN), service_region_only=False)
    assert outside.code == "0101"
    assert municipality_containing(point=point(*KATTEGAT), service_region_only=False) is None


def test_place_search_by_name_prefix_puts_the_service_region_first():
    results = place_search(query="Aarh")
    labels = [r.label for r in results]
    assert "Århus C" in labels  # "aa" finds the å spelling
    assert "8000 Aarhus C" in labels
    assert all(r.in_service_region for r in results)
    lem = place_search(query="Lem", limit=20)
    in_region = [r.in_service_region for r in lem]
    assert in_region == sorted(in_region, reverse=True)


def test_place_search_by_postcode():
    (aarhus_c,) = place_search(query="8000")
    assert (aarhus_c.kind, aarhus_c.label, aarhus_c.municipality) == (
        "postcode",
        "8000 Aarhus C",
        "Aarhus",
    )
    assert Municipality.objects.get(code="0751").area.contains(aarhus_c.point)
    numbers = [r.label[:4] for r in place_search(query="82")]
    assert numbers == sorted(numbers)
    assert all(n.startswith("82") for n in numbers)


@pytest.mark.parametrize("query", ["århus", "ÅRHUS", "  Århus "])
def test_place_search_ignores_case_and_spacing_with_danish_letters(query):
    assert place_search(query=query)[0].label == "Århus"


def test_place_search_finds_aeroe_outside_the_region():
    results = place_search(query="ærø")
    assert {"Ærø", "Ærøskøbing", "5970 Ærøskøbing"} <= {r.label for r in results}
    assert not any(r.in_service_region for r in results)
    assert place_search(query="ÆRØ") == results


def test_place_search_matches_later_words_after_the_start():
    labels = [r.label for r in place_search(query="nissum")]
    assert labels[0] == "Nissum"  # an exact hit first
    assert "Sønder Nissum" in labels


def test_place_search_without_a_query_or_a_match():
    assert place_search(query="  ") == []
    assert place_search(query="Xyzzy") == []
    assert len(place_search(query="S", limit=3)) == 3
