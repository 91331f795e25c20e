from django.conf import settings
from django.core.management.base import CommandParser

from amk.selectors.territory import service_region_anchor_sampler
from config.imports import ReportingCommand
from defibrillators.services import synthetic_defibrillators_generate
from volunteers.services.synthetic import (
    local_area_synthetic_aeds_ensure,
    synthetic_locations_refresh,
    synthetic_volunteers_generate,
)


class Command(ReportingCommand):
    help = (
        "Generate synthetic volunteers and AEDs in the service region (marked synthetic). "
        "Deterministic: each person or AED is drawn from its own stream seeded by --seed and "
        "its id, so the same seed gives the same rows. Idempotent: a run creates only what is "
        "missing for the requested sizes; a larger size adds the missing rows, a smaller one "
        "keeps the extra rows (use --replace to delete all synthetic data and regenerate). "
        "--volunteers counts hjerteløbere; corps members come on top (--corps-per-area for each "
        "of the local areas, which need load_local_areas). Every run also shifts the synthetic "
        "location times so the newest is now: the 'fresh' quarter stays fresh for a demo."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--volunteers", type=int, default=12_000)
        parser.add_argument("--aeds", type=int, default=5_000)
        parser.add_argument("--corps-per-area", type=int, default=15)
        parser.add_argument("--replace", action="store_true")

    def run(self, **options) -> None:
        sampler = service_region_anchor_sampler(
            population_csv=settings.REFERENCE_DATA_DIR / "BY3.csv"
        )
        common = {"seed": options["seed"], "sampler": sampler, "replace": options["replace"]}
        aeds = synthetic_defibrillators_generate(
            count=options["aeds"], progress=self.progress, **common
        )
        self.report("synthetic AEDs", aeds)
        self.report("corps AEDs", local_area_synthetic_aeds_ensure())
        volunteers = synthetic_volunteers_generate(
            count=options["volunteers"],
            corps_per_area=options["corps_per_area"],
            progress=self.progress,
            **common,
        )
        self.report("synthetic volunteers", volunteers)
        self.progress(f"Refreshed the location time of {synthetic_locations_refresh()} volunteers.")
