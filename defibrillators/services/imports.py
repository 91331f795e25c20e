"""Imports of AEDs from OpenStreetMap and CSV files: rows upserted by (source, source_id), a bad
row skipped with its reason."""

from collections.abc import Iterable
from pathlib import Path

from django.db import DatabaseError, transaction

from config.exceptions import ApplicationError
from config.imports import ImportSummary, Progress
from defibrillators.importers import FORMATS, READERS, RawAed, aed_fields, detect_format
from defibrillators.models import Defibrillator


def _apply(aed: Defibrillator, fields: dict) -> list[str]:
    """Set the fields that differ; return their names."""
    changed = [name for name, value in fields.items() if getattr(aed, name) != value]
    for name in changed:
        setattr(aed, name, fields[name])
    return changed


def aed_rows_read(*, path: Path, file_format: str | None = None) -> tuple[str, list[RawAed]]:
    """The file's rows, parsed but not validated, with the format they were read as."""
    if not path.is_file():
        raise ApplicationError(f"File not found: {path}")
    file_format = file_format or detect_format(path)
    if file_format not in FORMATS:
        raise ApplicationError(f"Unknown format {file_format!r}: use one of {', '.join(FORMATS)}")
    return file_format, list(READERS[file_format](path))


def aed_rows_upsert(rows: Iterable[RawAed], summary: ImportSummary) -> None:
    """Upsert AEDs by (source, source_id), counting into ``summary``.

    Each row is written in its own savepoint, so one refused row loses nothing else. An AED a
    periodic import had found gone from its source comes back active when a row names it again.
    """
    rows = list(rows)
    existing = {
        (aed.source, aed.source_id): aed
        for aed in Defibrillator.objects.filter(source_id__in={row.source_id for row in rows})
    }
    seen: dict[tuple[str, str], str] = {}
    for row in rows:
        key = (row.source, row.source_id)
        if key in seen:
            summary.skip(row.label, f"duplicate of {seen[key]}")
            continue
        try:
            fields = aed_fields(row)
        except ValueError as exc:
            summary.skip(row.label, str(exc))
            continue
        seen[key] = row.label
        aed = existing.get(key) or Defibrillator(source=row.source, source_id=row.source_id)
        if aed.removed_from_source_at is not None:
            fields = {"status": Defibrillator.Status.ACTIVE, **fields}
            fields["removed_from_source_at"] = None
        changed = _apply(aed, fields)
        if aed.pk and not changed:
            summary.unchanged += 1
            continue
        try:
            with transaction.atomic():
                aed.save(update_fields=[*changed, "updated_at"] if aed.pk else None)
        except DatabaseError as exc:
            summary.skip(row.label, f"refused by the database: {exc}".strip())
            continue
        if key in existing:
            summary.updated += 1
        else:
            summary.created += 1


@transaction.atomic
def defibrillators_import(
    *, path: Path, file_format: str | None = None, progress: Progress
) -> ImportSummary:
    """Upsert the file's AEDs; a bad row is skipped with its reason, AEDs it does not name are
    left alone (the periodic import, ``aed_import_run``, also retires those).

    A file that fails as a whole (unreadable, wrong columns) writes nothing.
    """
    file_format, rows = aed_rows_read(path=path, file_format=file_format)
    progress(f"{path.name}: {len(rows)} rows as {file_format}")
    summary = ImportSummary()
    aed_rows_upsert(rows, summary)
    return summary
