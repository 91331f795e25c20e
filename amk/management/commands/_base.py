"""The shared shape of the data commands: progress lines, skipped rows, one summary line."""

from django.core.management.base import BaseCommand, CommandError

from amk.services import ImportSummary
from config.exceptions import ApplicationError

SKIPPED_SHOWN = 10


class ReportingCommand(BaseCommand):
    """Subclasses implement ``run``; rule violations from services become a CommandError."""

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        try:
            self.run(*args, **options)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

    def run(self, *args, **options) -> None:
        raise NotImplementedError

    def progress(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)

    def report(self, label: str, summary: ImportSummary) -> None:
        """Skipped rows with their reasons (all of them with -v 2), then one summary line."""
        if self.verbosity == 0:
            return
        shown = summary.skipped if self.verbosity >= 2 else summary.skipped[:SKIPPED_SHOWN]
        for reason in shown:
            self.stderr.write(self.style.WARNING(f"{label}: skipped {reason}"))
        if len(shown) < len(summary.skipped):
            more = len(summary.skipped) - len(shown)
            self.stderr.write(self.style.WARNING(f"{label}: … and {more} more skipped (-v 2)"))
        self.stdout.write(self.style.SUCCESS(f"{label}: {summary}"))
