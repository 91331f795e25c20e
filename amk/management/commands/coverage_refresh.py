from django.core.management.base import BaseCommand

from amk.insight.coverage import coverage_grid_build, coverage_refresh


class Command(BaseCommand):
    help = (
        "Recount the coverage map now (beat does it every COVERAGE_REFRESH_S); with --rebuild, "
        "make the grid's squares again first (after changing COVERAGE_CELL_M or the region)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="make the grid again first")

    def handle(self, *args, rebuild: bool = False, **options) -> None:
        if rebuild:
            self.stdout.write(f"{coverage_grid_build()} squares in the grid")
        self.stdout.write(f"{coverage_refresh()} squares counted")
