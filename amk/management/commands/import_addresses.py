from pathlib import Path

from amk.services.addresses import ENTITIES, addresses_import
from amk.services.addresses_events import address_events_apply
from config.imports import ReportingCommand


class Command(ReportingCommand):
    help = (
        "Import DAR access addresses (adgangsadresser) from an extract in the DAWA format (JSON "
        "list, NDJSON or CSV; flat 'mini', nested or normalised), and/or apply a file of DAWA "
        "replication events (/replikering/haendelser) in sequence-number order. Idempotent: "
        "addresses are upserted by id and events at or below the last applied sequence number "
        "are skipped."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", nargs="?", type=Path, help="the extract (adgangsadresser)")
        parser.add_argument("--events", type=Path, help="a file of replication events")
        parser.add_argument(
            "--entity",
            choices=ENTITIES,
            help="the events' entity (default: recognised from each event's fields)",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="the extract is the whole register: delete real addresses not in it",
        )
        parser.add_argument(
            "--sequence-number",
            type=int,
            help="the replication sequence number the extract was taken at",
        )

    def run(self, **options) -> None:
        if not options["path"] and not options["events"]:
            self.print_help("manage.py", "import_addresses")
            return
        if options["path"]:
            summary = addresses_import(
                path=Path(options["path"]),
                replace=options["replace"],
                sequence_number=options["sequence_number"],
                progress=self.progress,
            )
            self.report("addresses", summary)
        if options["events"]:
            events = address_events_apply(path=Path(options["events"]), entity=options["entity"])
            if self.verbosity:
                for reason in events.skipped:
                    self.stderr.write(self.style.WARNING(f"events: skipped {reason}"))
                self.stdout.write(self.style.SUCCESS(f"events: {events}"))
