from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from config.imports import ReportingCommand
from defibrillators.importers import CSV_COLUMNS, FORMATS
from defibrillators.models import AedImportRun
from defibrillators.services import aed_import_run, defibrillators_import


class Command(ReportingCommand):
    help = (
        "Import AEDs (defibrillators), upserted by (source, source_id). Formats: OpenStreetMap "
        "emergency=defibrillator as Overpass JSON (osm-json) or GeoJSON with '@id' like "
        "'node/123' (geojson), and csv with a header row, comma- or semicolon-separated, UTF-8. "
        f"CSV columns: {', '.join(CSV_COLUMNS)}. Required: source_id, name, lat, lon (WGS84). "
        "indoor: yes/no; access: public/restricted/private (or the OSM values yes, permissive, "
        "designated, customers, no); opening_hours: OSM syntax, empty means 24/7; status: "
        "active/inactive; dates: YYYY-MM-DD; contact_phone: a mobile number for the AED's "
        "messages. A bad row is skipped with its row number and reason; the rest is imported. "
        "OSM imports keep fields OSM has no tag for (cabinet code, expiry dates, contact). "
        "With --sync the file is the whole source, as in the periodic import: AEDs of its "
        "source it no longer lists are made inactive, and a run that would drop more than "
        "AED_IMPORT_MAX_DROP_SHARE of them is refused; the run is recorded (AED import runs)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A file, or with --sync also an http(s) URL.")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default=None,
            help="Default: from the file extension, and for .json from its content.",
        )
        parser.add_argument("--sync", action="store_true", help="Guarded full import (above).")
        parser.add_argument(
            "--max-drop-share",
            type=float,
            default=None,
            help=f"With --sync (default {settings.AED_IMPORT_MAX_DROP_SHARE}).",
        )

    def run(self, **options) -> None:
        if not options["sync"]:
            summary = defibrillators_import(
                path=Path(options["path"]), file_format=options["format"], progress=self.progress
            )
            self.report("AEDs", summary)
            return
        run = aed_import_run(
            source=options["path"],
            file_format=options["format"],
            max_drop_share=options["max_drop_share"],
            progress=self.progress,
        )
        assert run is not None  # noqa: S101  a source was given
        for reason in run.skipped_rows[: 10 if self.verbosity < 2 else None]:
            self.stderr.write(self.style.WARNING(f"AEDs: skipped {reason}"))
        if run.status != AedImportRun.Status.IMPORTED:
            raise CommandError(f"AED import {run.status}: {run.reason}")
        self.stdout.write(
            self.style.SUCCESS(
                f"AEDs: created {run.created}, updated {run.updated}, unchanged {run.unchanged}, "
                f"removed {run.removed}, skipped {run.skipped}"
            )
        )
