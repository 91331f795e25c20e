"""The periodic, guarded AED import (Celery beat: defibrillators.tasks): the configured source, a
file path or an http(s) URL in Overpass JSON, GeoJSON or CSV, is read in full; its AEDs are
upserted and those it no longer lists are made inactive, unless that would take away more than
the allowed share of the source's current AEDs. Such a run is refused and changes nothing, so a
truncated or broken export never empties the registry: the last good data stays. Every run is an
``AedImportRun`` with its counts, or with why it was refused or failed.
"""

import contextlib
import logging
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.exceptions import ApplicationError
from config.imports import ImportSummary, Progress
from defibrillators.importers import RawAed
from defibrillators.models import AedImportRun, Defibrillator
from defibrillators.services.imports import aed_rows_read, aed_rows_upsert

logger = logging.getLogger(__name__)

# Which registry source a format's rows belong to (and so which current AEDs it may retire).
SOURCE_FOR_FORMAT = {
    "osm-json": Defibrillator.Source.OSM,
    "geojson": Defibrillator.Source.OSM,
    "csv": Defibrillator.Source.CSV,
}
SKIPPED_KEPT = 200
# One import at a time (a transaction-scoped advisory lock; the key is a constant).
_LOCK_KEY = zlib.crc32(b"defibrillators.aed_import_run")


def _quiet(message: str) -> None:
    """No progress output (the beat task)."""


def _shown(source: str) -> str:
    """The source as the admin may see it: a URL without credentials or query (a key may be
    in either)."""
    parts = urlsplit(source)
    if parts.scheme not in {"http", "https"}:
        return source
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@contextlib.contextmanager
def _fetched(source: str) -> Iterator[Path]:
    """A local file with the source's content: the path itself, or the URL downloaded (within
    AED_IMPORT_TIMEOUT_S and AED_IMPORT_MAX_BYTES)."""
    if urlsplit(source).scheme not in {"http", "https"}:
        yield Path(source)
        return
    suffix = Path(urlsplit(source).path).suffix.lower()
    try:
        with requests.get(source, timeout=settings.AED_IMPORT_TIMEOUT_S, stream=True) as response:
            if response.status_code != requests.codes.ok:
                raise ApplicationError(f"{_shown(source)}: HTTP {response.status_code}")
            with tempfile.NamedTemporaryFile(
                suffix=suffix if suffix in {".csv", ".json", ".geojson"} else ".download"
            ) as fh:
                size = 0
                for chunk in response.iter_content(chunk_size=1 << 16):
                    size += len(chunk)
                    if size > settings.AED_IMPORT_MAX_BYTES:
                        raise ApplicationError(
                            f"{_shown(source)}: larger than {settings.AED_IMPORT_MAX_BYTES} bytes"
                        )
                    fh.write(chunk)
                fh.flush()
                yield Path(fh.name)
    except requests.RequestException as exc:
        raise ApplicationError(f"{_shown(source)}: could not be fetched ({exc})") from exc


def _guarded_apply(run: AedImportRun, rows: list[RawAed], max_drop_share: float) -> None:
    """Upsert and retire in one transaction, or refuse before the first write."""
    source = SOURCE_FOR_FORMAT[run.file_format]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise ApplicationError("Another AED import is running.")
        current = dict(
            Defibrillator.objects.filter(
                source=source, removed_from_source_at__isnull=True
            ).values_list("source_id", "pk")
        )
        # A row that names an AED but is refused (a bad value) keeps that AED as it was.
        listed = {row.source_id for row in rows if row.source == source and row.source_id}
        gone = sorted(set(current) - listed)
        run.current = len(current)
        if current and len(gone) / len(current) > max_drop_share:
            run.status = AedImportRun.Status.REFUSED
            run.reason = (
                f"The source no longer lists {len(gone)} of the {len(current)} current AEDs "
                f"({len(gone) / len(current):.0%}), more than the {max_drop_share:.0%} allowed: "
                f"nothing was changed. First missing: {', '.join(gone[:5])}."
            )
            return
        summary = ImportSummary()
        aed_rows_upsert(rows, summary)
        now = timezone.now()
        run.removed = Defibrillator.objects.filter(pk__in=[current[s] for s in gone]).update(
            status=Defibrillator.Status.INACTIVE, removed_from_source_at=now, updated_at=now
        )
        run.created, run.updated = summary.created, summary.updated
        run.unchanged = summary.unchanged
        run.skipped, run.skipped_rows = len(summary.skipped), summary.skipped[:SKIPPED_KEPT]
        run.status = AedImportRun.Status.IMPORTED


def aed_import_run(
    *,
    source: str | None = None,
    file_format: str | None = None,
    max_drop_share: float | None = None,
    progress: Progress = _quiet,
) -> AedImportRun | None:
    """Run the import from ``source`` (default: AED_IMPORT_SOURCE; None when none is set, the
    default: the periodic import is off). The run is recorded whatever comes of it."""
    source = settings.AED_IMPORT_SOURCE if source is None else source
    if not source:
        return None
    if max_drop_share is None:
        max_drop_share = settings.AED_IMPORT_MAX_DROP_SHARE
    if not 0 <= max_drop_share <= 1:
        raise ApplicationError("The share of AEDs a run may drop must be from 0 to 1.")
    file_format = file_format or settings.AED_IMPORT_FORMAT or None
    run = AedImportRun.objects.create(source=_shown(source), file_format=file_format or "")
    try:
        with _fetched(source) as path:
            run.file_format, rows = aed_rows_read(path=path, file_format=file_format)
            run.rows = len(rows)
            progress(f"{run.source}: {len(rows)} rows as {run.file_format}")
            _guarded_apply(run, rows, max_drop_share)
    except ApplicationError as exc:
        run.status, run.reason = AedImportRun.Status.FAILED, exc.message
    except Exception as exc:
        run.status, run.reason = AedImportRun.Status.FAILED, f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finished_at = timezone.now()
        run.save()
        if run.status != AedImportRun.Status.IMPORTED:
            logger.warning("AED import from %s %s: %s", run.source, run.status, run.reason)
    return run
