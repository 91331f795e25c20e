"""The periodic, guarded AED import (defibrillators.services.import_runs) with real Overpass JSON
and CSV exports (tests/fixtures/aed_source): a normal run, a run refused because the source
shrank, a run with bad rows, and each recorded as an AedImportRun shown in the admin."""

import datetime as dt
import http.server
import io
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from defibrillators.models import AedImportRun, Defibrillator
from defibrillators.services import aed_import_run
from defibrillators.tasks import aed_import_task
from tests.factories import DefibrillatorFactory, UserFactory

pytestmark = pytest.mark.django_db

SOURCE = Path(__file__).resolve().parent.parent / "fixtures" / "aed_source"
Status = AedImportRun.Status


def run(name: str, **kwargs) -> AedImportRun:
    result = aed_import_run(source=str(SOURCE / name), **kwargs)
    assert result is not None
    return result


def osm() -> dict[str, Defibrillator]:
    return {aed.source_id: aed for aed in Defibrillator.objects.filter(source="osm")}


def counts(result: AedImportRun) -> tuple[int, ...]:
    return (result.created, result.updated, result.unchanged, result.removed, result.skipped)


def test_off_by_default(settings):
    settings.AED_IMPORT_SOURCE = ""
    assert aed_import_run() is None
    assert aed_import_task() is None
    assert not AedImportRun.objects.exists()


def test_a_normal_run_then_a_week_later(settings):
    settings.AED_IMPORT_SOURCE = str(SOURCE / "overpass_full.json")
    assert aed_import_task() == Status.IMPORTED
    first = AedImportRun.objects.get()
    assert (first.status, first.file_format, first.rows, first.current) == (
        Status.IMPORTED,
        "osm-json",
        10,
        0,
    )
    assert counts(first) == (10, 0, 0, 0, 0)
    assert first.finished_at >= first.started_at
    aeds = osm()
    assert aeds["node/3108"].access == Defibrillator.Access.PRIVATE  # access=private
    assert aeds["node/3107"].access == Defibrillator.Access.PUBLIC  # access=designated
    assert aeds["node/3103"].access == Defibrillator.Access.RESTRICTED  # access=customers
    DefibrillatorFactory(name="Indtastet i hånden")  # another source: never touched

    week_later = run("overpass_week_later.json")

    assert week_later.status == Status.IMPORTED
    assert week_later.current == 10
    assert counts(week_later) == (1, 1, 8, 1, 0)
    aeds = osm()
    assert aeds["node/3101"].opening_hours == "Mo-Fr 08:00-16:00"
    gone = aeds["node/3110"]
    assert gone.status == Defibrillator.Status.INACTIVE
    assert gone.removed_from_source_at is not None
    assert aeds["node/3111"].name == "Hjertestarter Skanderborg Station"
    assert Defibrillator.objects.filter(source="manual", status="active").count() == 1

    # Listed again: back, active.
    back = run("overpass_full.json")
    assert counts(back) == (0, 2, 8, 1, 0)  # 3101's hours and 3110 back; 3111 gone
    assert osm()["node/3110"].status == Defibrillator.Status.ACTIVE
    assert osm()["node/3110"].removed_from_source_at is None


def test_a_run_that_would_drop_too_many_is_refused_and_keeps_the_last_good_data():
    run("overpass_full.json")
    before = {k: (a.status, a.updated_at) for k, a in osm().items()}

    refused = run("overpass_truncated.json")

    assert refused.status == Status.REFUSED
    assert (refused.rows, refused.current) == (7, 10)
    assert counts(refused) == (0, 0, 0, 0, 0)
    assert "3 of the 10 current AEDs (30%), more than the 20% allowed" in refused.reason
    assert "node/3108" in refused.reason
    assert {k: (a.status, a.updated_at) for k, a in osm().items()} == before

    # A larger share allowed (by setting or per run): the same source goes through.
    allowed = run("overpass_truncated.json", max_drop_share=0.3)
    assert (allowed.status, allowed.removed) == (Status.IMPORTED, 3)


def test_a_source_that_lists_nothing_is_refused(tmp_path):
    run("overpass_full.json")
    empty = tmp_path / "overpass.json"
    empty.write_text('{"version": 0.6, "elements": []}', encoding="utf-8")

    refused = aed_import_run(source=str(empty))

    assert refused.status == Status.REFUSED
    assert "10 of the 10" in refused.reason
    assert Defibrillator.objects.filter(source="osm", status="active").count() == 10


def test_a_run_with_bad_rows_skips_them_and_keeps_the_aeds_they_name():
    run("overpass_full.json")

    result = run("overpass_bad_rows.json")

    assert result.status == Status.IMPORTED
    # 3110 and 3109 listed fine; 3103 listed with bad hours: kept as it was, not removed.
    assert counts(result) == (0, 0, 9, 0, 4)
    reasons = "\n".join(result.skipped_rows)
    assert "node/3103: opening_hours: 'tirsdag-søndag 10-17' is not valid OSM syntax" in reasons
    assert "node/3112: lat/lon: missing or not numbers" in reasons
    assert "node/3113: lat/lon: 55.605, 13.0038 is outside Denmark" in reasons
    assert "node/3114: emergency: not tagged emergency=defibrillator" in reasons
    kept = osm()["node/3103"]
    assert (kept.opening_hours, kept.status) == ("Tu-Su 10:00-17:00", "active")
    assert "node/3112" not in osm()


def test_a_csv_register_with_contacts_and_danish_excel_numbers():
    result = run("register.csv")

    assert (result.status, result.file_format) == (Status.IMPORTED, "csv")
    assert counts(result) == (3, 0, 0, 0, 1)
    assert result.skipped_rows == ["row 5 (HS-100234): contact_phone: '12' is not a phone number"]
    ry = Defibrillator.objects.get(source="csv", source_id="HS-100231")
    assert ry.location.coords == (9.7694, 56.0889)  # decimal commas
    assert (ry.contact_name, str(ry.contact_phone)) == ("Bente Mikkelsen", "+4520112233")
    assert ry.pads_expire_on == dt.date(2026, 9, 30)
    gjern = Defibrillator.objects.get(source_id="HS-100232")
    assert str(gjern.contact_phone) == "+4521445566"  # a Danish number without +45
    assert Defibrillator.objects.get(source_id="HS-100233").access == "private"


def test_a_source_that_cannot_be_read_fails_and_changes_nothing():
    run("overpass_full.json")

    failed = aed_import_run(source=str(SOURCE / "missing.json"))

    assert failed.status == Status.FAILED
    assert "File not found" in failed.reason
    assert failed.finished_at is not None
    assert Defibrillator.objects.filter(source="osm", status="active").count() == 10


class _Export(http.server.BaseHTTPRequestHandler):
    """A register's export over HTTP: the fixture, or a 503 for /down."""

    def do_GET(self):
        if self.path.startswith("/down"):
            self.send_response(503)
            self.end_headers()
            return
        body = (SOURCE / "overpass_full.json").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def export_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Export)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_url_source_is_downloaded_and_shown_without_its_key(export_server):
    result = aed_import_run(source=f"{export_server}/api/interpreter?key=hemmelig")

    assert (result.status, result.created, result.file_format) == (Status.IMPORTED, 10, "osm-json")
    assert result.source == f"{export_server}/api/interpreter"
    assert "hemmelig" not in result.source

    down = aed_import_run(source=f"{export_server}/down/aeds.json")
    assert down.status == Status.FAILED
    assert "HTTP 503" in down.reason


def test_the_sync_command_reports_and_refuses():
    out = io.StringIO()
    call_command("import_aeds", str(SOURCE / "overpass_full.json"), "--sync", stdout=out)
    assert "AEDs: created 10, updated 0, unchanged 0, removed 0, skipped 0" in out.getvalue()
    with pytest.raises(CommandError, match=r"refused: .*\(30%\)"):
        call_command("import_aeds", str(SOURCE / "overpass_truncated.json"), "--sync")
    assert AedImportRun.objects.count() == 2


def test_the_admin_shows_the_runs(client):
    run("overpass_full.json")
    run("overpass_truncated.json")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:defibrillators_aedimportrun_changelist"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Refused (the last good data kept)" in page or "Afvist" in page
    assert "overpass_truncated.json" in page
    assert "30%" in page
    run_id = AedImportRun.objects.latest("started_at").pk
    change = client.get(reverse("admin:defibrillators_aedimportrun_change", args=[run_id]))
    assert change.status_code == 200  # view only
    assert client.get(reverse("admin:defibrillators_aedimportrun_add")).status_code == 403
