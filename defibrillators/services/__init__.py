"""Writes for the AED registry, by job: file imports (``imports``), the periodic guarded import
(``import_runs``) and the synthetic demo AEDs (``synthetic``)."""

from defibrillators.services.import_runs import aed_import_run
from defibrillators.services.imports import defibrillators_import
from defibrillators.services.synthetic import (
    synthetic_defibrillator_ensure,
    synthetic_defibrillators_generate,
)

__all__ = [
    "aed_import_run",
    "defibrillators_import",
    "synthetic_defibrillator_ensure",
    "synthetic_defibrillators_generate",
]
