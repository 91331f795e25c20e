"""What every data import shares: the summary of what it did, the progress callback, the base of
the data commands that report both, the synthetic-data epoch and a careful GeoJSON reader."""

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from config.exceptions import ApplicationError

Progress = Callable[[str], None]

SKIPPED_SHOWN = 10


def synthetic_epoch() -> dt.date:
    """January 1st of this year. Synthetic dates are drawn relative to it, so a seed gives the
    same rows all year, and ages and expiry dates stay realistic as the years pass."""
    return dt.date(timezone.localdate().year, 1, 1)


@dataclass
class ImportSummary:
    """What one import did, so every command can account for every input row."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    def skip(self, row: str, reason: str) -> None:
        self.skipped.append(f"{row}: {reason}")

    def __str__(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"skipped {len(self.skipped)}"
        )


def read_geojson_features(path: Path) -> list[dict]:
    """The features of a GeoJSON file, with a clear error instead of a traceback."""
    if not path.is_file():
        raise ApplicationError(f"File not found: {path}")
    try:
        with path.open(encoding="utf-8") as fh:
            document = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ApplicationError(f"{path}: not valid JSON ({exc})") from exc
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise ApplicationError(f"{path}: not a GeoJSON FeatureCollection")
    return features


class ReportingCommand(BaseCommand):
    """The shared shape of the data commands: progress lines, skipped rows, one summary line.

    Subclasses implement ``run``; rule violations from services become a CommandError.
    """

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
