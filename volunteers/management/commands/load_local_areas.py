from pathlib import Path

from django.conf import settings

from config.imports import ReportingCommand
from volunteers.services.areas import DEFAULT_AREA_RADIUS_M, local_areas_load


class Command(ReportingCommand):
    help = (
        "Load the 32 local areas of the 1-1-2 førstehjælper corps from "
        "forstehjaelper_omraader_rm.csv. Each area is the land connected to the village point "
        "within a circle around it, never across water. Re-runs update name, municipality, "
        "note and point but keep an existing polygon (an administrator may have edited it) "
        "unless --reset-areas. Needs load_geography."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--path",
            type=Path,
            default=None,
            help="CSV file (default: REFERENCE_DATA_DIR/forstehjaelper_omraader_rm.csv)",
        )
        parser.add_argument("--radius-m", type=int, default=DEFAULT_AREA_RADIUS_M)
        parser.add_argument(
            "--reset-areas", action="store_true", help="Derive every polygon again."
        )

    def run(self, **options) -> None:
        path = options["path"] or settings.REFERENCE_DATA_DIR / "forstehjaelper_omraader_rm.csv"
        summary = local_areas_load(
            path=path, radius_m=options["radius_m"], reset_areas=options["reset_areas"]
        )
        self.report("local areas", summary)
