import io

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from amk.models import Municipality, Place
from volunteers.models import LocalArea

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reference_geography")]


def load(*args: str) -> str:
    out = io.StringIO()
    call_command("load_local_areas", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_loads_the_32_areas_around_their_village_points():
    assert "local areas: created 32, updated 0, unchanged 0, skipped 0" in load()
    assert LocalArea.objects.count() == 32
    fur = LocalArea.objects.get(name="Fur")
    assert fur.municipality_id == "0779"
    assert fur.area.geom_type == "MultiPolygon"
    assert set(
        LocalArea.objects.filter(location_is_approximate=True).values_list("name", flat=True)
    ) == {
        "Feldborg",
        "Helgenæs",
        "Mols",
        "Udbyhøj",
    }
    for area in LocalArea.objects.all():
        assert area.area.contains(area.village_point), area.name


def test_areas_are_clipped_to_land():
    load()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.name,
                   ST_Area(ST_Difference(a.area, land.area)::geography),
                   ST_Area(a.area::geography)
            FROM volunteers_localarea a
            CROSS JOIN LATERAL (
                SELECT ST_Union(m.area) AS area FROM amk_municipality m
                WHERE ST_Intersects(m.area, a.area)
            ) land
            """
        )
        rows = cursor.fetchall()
    assert len(rows) == 32
    for name, outside_land_m2, area_m2 in rows:
        assert outside_land_m2 < 1, name
        assert area_m2 <= 3.15 * 6000**2, name  # never more than the 6 km circle
    tunoe = next(area for name, _, area in rows if name == "Tunø")
    assert tunoe < 0.3 * 3.14 * 6000**2  # a small island: mostly sea around it


def test_each_area_is_one_piece_of_land_around_its_village():
    """The real 32 villages on the generalised DAGI outlines: each area is the one piece of
    land its village stands on, never an island or a shore across the water."""
    load()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.name, ST_NumGeometries(a.area), ST_Contains(a.area, a.village_point::geometry),
                   ST_Area(a.area::geography),
                   (SELECT ST_Area(ST_Intersection(a.area, m.area)::geography)
                    FROM amk_municipality m WHERE m.code = '0741')
            FROM volunteers_localarea a
            """
        )
        rows = {name: rest for name, *rest in cursor.fetchall()}
    assert len(rows) == 32
    for name, (parts, contains_village, _, _) in rows.items():
        assert (parts, contains_village) == (1, True), name
    # Samsø's own areas are on Samsø; no other area reaches it.
    assert {name for name, row in rows.items() if row[3] > 1} == {"Ballen", "Nordby"}
    # An inland village keeps its whole land-clipped circle.
    assert rows["Klejtrup"][2] > 0.99 * 3.14 * 6000**2


def test_tunoe_does_not_reach_samsoe():
    load()
    tunoe = LocalArea.objects.get(name="Tunø")
    samsoe = Municipality.objects.get(code="0741")
    circle = tunoe.village_point.transform(25832, clone=True).buffer(6000)
    assert circle.transform(4326, clone=True).intersects(samsoe.area)  # within reach, across sea
    assert not tunoe.area.intersects(samsoe.area)
    tranebjerg, west_samsoe = Point(10.596, 55.834, srid=4326), Point(10.5307, 55.958, srid=4326)
    assert samsoe.area.contains(west_samsoe)
    assert not tunoe.area.contains(tranebjerg)
    assert not tunoe.area.contains(west_samsoe)
    assert tunoe.area.contains(tunoe.village_point)
    assert 2e6 < tunoe.area.transform(25832, clone=True).area < 5e6  # the island, about 3.5 km²


def test_a_village_just_off_the_generalised_coast_gets_the_nearest_land(tmp_path):
    csv_file = tmp_path / "areas.csv"
    csv_file.write_text(
        "nr,omraade,kommunekode,kommunenavn,lon,lat,koordinat_kilde,bemaerkning\n"
        "1,Tunø vest,0727,Odder,10.4150,55.9480,,\n"  # 240 m off Tunø's generalised west coast
        "2,Ude i bugten,0727,Odder,10.4000,55.9480,,\n",  # 880 m out: at sea
        encoding="utf-8",
    )
    output = load("--path", str(csv_file))
    assert "created 1, updated 0, unchanged 0, skipped 1" in output
    assert "row 3 (Ude i bugten): village point is not on land" in output
    harbour = LocalArea.objects.get(name="Tunø vest")
    assert harbour.area.num_geom == 1
    assert not harbour.area.contains(harbour.village_point)
    assert harbour.area.distance(harbour.village_point) > 0
    assert harbour.area.contains(Point(10.44439, 55.94883, srid=4326))  # the island itself


def test_the_radius_option_changes_new_areas():
    load("--radius-m", "2000")
    inland = LocalArea.objects.get(name="Klejtrup").area.transform(25832, clone=True)
    assert 12.4e6 < inland.area < 12.6e6  # π · 2 km²: a full circle on land


def test_a_second_run_changes_nothing():
    load()
    before = {a.name: (a.area.wkb, a.updated_at) for a in LocalArea.objects.all()}
    assert "created 0, updated 0, unchanged 32, skipped 0" in load()
    assert {a.name: (a.area.wkb, a.updated_at) for a in LocalArea.objects.all()} == before


def test_an_edited_polygon_is_kept_unless_reset():
    load()
    ballen = LocalArea.objects.get(name="Ballen")
    x, y = ballen.village_point.coords
    drawn = MultiPolygon(Polygon.from_bbox((x - 0.01, y - 0.01, x + 0.01, y + 0.01)), srid=4326)
    LocalArea.objects.filter(pk=ballen.pk).update(area=drawn, note="edited")
    assert "updated 1, unchanged 31" in load()
    ballen.refresh_from_db()
    assert ballen.area.equals(drawn)
    assert ballen.note == "Ballen havn, Samsø"  # the CSV's note is restored
    assert "updated 1, unchanged 31" in load("--reset-areas")
    ballen.refresh_from_db()
    assert not ballen.area.equals(drawn)


def test_bad_rows_are_skipped_with_their_reason(tmp_path):
    csv_file = tmp_path / "areas.csv"
    csv_file.write_text(
        "nr,omraade,kommunekode,kommunenavn,lon,lat,koordinat_kilde,bemaerkning\n"
        "1,Ballen,0741,Samsø,10.6386,55.81357,quattroshapes,\n"
        "2,Ingensteds,9999,Ingen,10.0,56.0,,\n"
        "3,Paris,0751,Aarhus,2.29,48.85,,\n"
        "4,Havet,0751,Aarhus,11.2,56.3,,\n"
        "5,Tal,0751,Aarhus,ti,56.3,,\n",
        encoding="utf-8",
    )
    output = load("--path", str(csv_file))
    assert "created 1, updated 0, unchanged 0, skipped 4" in output
    assert "row 3: kommunekode: unknown municipality '9999'" in output
    assert "row 4: lon/lat: 2.29, 48.85 is outside Denmark" in output
    assert "row 5: lon/lat: 11.2, 56.3 is outside Denmark" in output  # the Kattegat
    assert "row 6: lon/lat: not numbers" in output
    assert list(LocalArea.objects.values_list("name", flat=True)) == ["Ballen"]


def test_missing_file_or_columns_are_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="File not found"):
        load("--path", str(tmp_path / "nope.csv"))
    (tmp_path / "bad.csv").write_text("nr,name\n1,Ballen\n", encoding="utf-8")
    with pytest.raises(CommandError, match="missing column"):
        load("--path", str(tmp_path / "bad.csv"))


def test_needs_the_geography_first():
    Place.objects.update(municipality=None)
    Municipality.objects.all().delete()
    with pytest.raises(CommandError, match="run load_geography first"):
        load()
