from django.conf import settings

from amk.services.territory import geography_load
from config.imports import ReportingCommand


class Command(ReportingCommand):
    help = (
        "Load DAGI regions, municipalities and postcodes and the DK.geojson gazetteer from "
        "REFERENCE_DATA_DIR. Idempotent: rows are upserted by code, places by (name, point)."
    )

    def run(self, **options) -> None:
        summaries = geography_load(data_dir=settings.REFERENCE_DATA_DIR, progress=self.progress)
        for label, summary in summaries.items():
            self.report(label, summary)
