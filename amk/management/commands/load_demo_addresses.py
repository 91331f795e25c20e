from django.conf import settings

from amk.services.addresses import addresses_import
from amk.services.addresses_synthetic import synthetic_addresses_generate
from amk.services.territory import places_load
from config.imports import ReportingCommand

DEFAULT_COUNT = 60_000


class Command(ReportingCommand):
    help = (
        "Demo addresses, idempotently: SYNTHETIC access addresses in the service region's "
        "postcodes (marked synthetic), a few real addresses (REFERENCE_DATA_DIR/addresses/"
        "demo_adgangsadresser.json) and landmarks for the gazetteer (addresses/landmarks.geojson)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--count", type=int, default=DEFAULT_COUNT, help="synthetic addresses to generate"
        )

    def run(self, **options) -> None:
        folder = settings.REFERENCE_DATA_DIR / "addresses"
        self.progress(f"Generating {options['count']} synthetic addresses …")
        made = synthetic_addresses_generate(count=options["count"])
        self.progress(f"synthetic addresses: {made}")
        self.report("landmarks", places_load(path=folder / "landmarks.geojson"))
        self.report("real addresses", addresses_import(path=folder / "demo_adgangsadresser.json"))
