from pathlib import Path

from django.core.management.base import CommandParser

from config.imports import ReportingCommand
from defibrillators.importers import CSV_COLUMNS, FORMATS
from defibrillators.services import defibrillators_import


class Command(ReportingCommand):
    help = (
        "Import AEDs (defibrillators), upserted by (source, source_id). Formats: OpenStreetMap "
        "emergency=defibrillator as Overpass JSON (osm-json) or GeoJSON with '@id' like "
        "'node/123' (geojson), and csv with a header row, comma- or semicolon-separated, UTF-8. "
        f"CSV columns: {', '.join(CSV_COLUMNS)}. Required: source_id, name, lat, lon (WGS84). "
        "indoor: yes/no; access: public/restricted/private (or the OSM values yes, permissive, "
        "customers, no); opening_hours: OSM syntax, empty means 24/7; status: active/inactive; "
        "dates: YYYY-MM-DD. A bad row is skipped with its row number and reason; the rest is "
        "imported. OSM imports keep fields OSM has no tag for (cabinet code, expiry dates)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default=None,
            help="Default: from the file extension, and for .json from its content.",
        )

    def run(self, **options) -> None:
        summary = defibrillators_import(
            path=options["path"], file_format=options["format"], progress=self.progress
        )
        self.report("AEDs", summary)
