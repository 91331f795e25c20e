"""The synthetic demo AEDs: near real places by population, clearly marked synthetic."""

import datetime as dt
import random

from django.contrib.gis.geos import Point
from django.db import transaction

from amk.selectors.territory import AnchorSampler
from config.exceptions import ApplicationError
from config.imports import ImportSummary, Progress, synthetic_epoch
from defibrillators.models import Defibrillator

SYNTHETIC_NAME = "Hjertestarter (syntetisk) – {}"
SYNTHETIC_PREFIX = "demo-aed-"
AED_JITTER_M = 1000
OUTDOOR_24_7_SHARE = 2 / 3
INACTIVE_SHARE = 0.03
OUTDOOR_PLACEMENTS = (
    "På facaden ved hovedindgangen", "Ved cykelstativet", "På gavlen mod parkeringspladsen",
    "I varmeskab ved busstoppestedet", "Ved indgangen til hallen", "På muren ved købmanden",
    "Ved klubhuset", "Ved kirkens våbenhus", "Ved legepladsen",
)  # fmt: skip
INDOOR_PLACEMENTS = (
    "I forhallen", "Ved receptionen", "I kantinen", "Ved elevatoren i stueetagen",
    "I omklædningsrummet", "Bag kassen", "I personalerummet", "Ved informationen",
)  # fmt: skip
INDOOR_OPENING_HOURS = (
    "Mo-Fr 07:00-17:00", "Mo-Su 06:00-22:00", "Mo-Fr 08:00-16:00; Sa 09:00-13:00",
    "Mo-Sa 08:00-20:00", "Mo-Th 08:00-16:00; Fr 08:00-14:00", "Mo-Su 07:00-21:00",
)  # fmt: skip
OWNERS = (
    "Dagli'Brugsen", "Idrætsforeningen", "Grundejerforeningen", "Sparekassen", "Kommunen",
    "Forsamlingshuset", "Skolen", "Menighedsrådet", "Borgerforeningen", "Lokalrådet",
    "Tandlægehuset", "Campingpladsen",
)  # fmt: skip
STREETS = (
    "Hovedgaden", "Skolevej", "Kirkevej", "Stationsvej", "Møllevej", "Bygaden", "Søndergade",
    "Nørregade", "Vestergade", "Østergade", "Skovvej", "Engvej",
)  # fmt: skip


def _synthetic_aed(source_id: str, *, seed: int, sampler: AnchorSampler) -> Defibrillator:
    """One AED from its own random stream (seeded by its id), so it is the same on every run."""
    rng = random.Random(f"{seed}/{source_id}")  # noqa: S311  synthetic data, not security
    anchor = sampler.draw(rng)
    lon, lat = anchor.jittered(rng, AED_JITTER_M)
    outdoor = rng.random() < OUTDOOR_24_7_SHARE
    aed = Defibrillator(
        source=Defibrillator.Source.SYNTHETIC,
        source_id=source_id,
        synthetic=True,
        name=SYNTHETIC_NAME.format(anchor.name),
        location=Point(lon, lat, srid=4326),
        address=f"{rng.choice(STREETS)} {rng.randint(1, 120)}, {anchor.name}",
        indoor=not outdoor,
        placement=rng.choice(OUTDOOR_PLACEMENTS if outdoor else INDOOR_PLACEMENTS),
        opening_hours="24/7" if outdoor else rng.choice(INDOOR_OPENING_HOURS),
        floor="" if outdoor else rng.choice(("", "0", "1")),
        owner_name=rng.choice(OWNERS),
    )
    if not outdoor and rng.random() < 0.3:
        aed.access = Defibrillator.Access.RESTRICTED
    if rng.random() < 0.25:
        aed.cabinet_code = f"{rng.randint(0, 9999):04d}"
    if rng.random() < INACTIVE_SHARE:
        aed.status = Defibrillator.Status.INACTIVE
    if rng.random() < 0.6:
        aed.battery_expires_on = synthetic_epoch() + dt.timedelta(days=rng.randint(-60, 1500))
    if rng.random() < 0.6:
        aed.pads_expire_on = synthetic_epoch() + dt.timedelta(days=rng.randint(-30, 900))
    return aed


@transaction.atomic
def synthetic_defibrillators_generate(
    *, seed: int, count: int, sampler: AnchorSampler, replace: bool = False, progress: Progress
) -> ImportSummary:
    """AEDs near real places by population, clearly marked synthetic.

    Like the volunteers: only missing ones are created, extra ones are kept, ``replace``
    deletes every synthetic AED first (the corps' AEDs too; they are recreated after).
    """
    if count < 0:
        raise ApplicationError("The number of AEDs must not be negative.")
    synthetic = Defibrillator.objects.filter(source=Defibrillator.Source.SYNTHETIC)
    if replace:
        deleted, _ = synthetic.delete()
        progress(f"Deleted {deleted} synthetic AEDs and their links.")
    wanted = [f"{SYNTHETIC_PREFIX}{i:06d}" for i in range(1, count + 1)]
    stored = {
        aed.source_id: aed
        for aed in synthetic.filter(source_id__startswith=SYNTHETIC_PREFIX).only(
            "source_id", "name", "location"
        )
    }
    if wanted and wanted[0] in stored:
        expected = _synthetic_aed(wanted[0], seed=seed, sampler=sampler)
        if (expected.name, expected.location) != (
            stored[wanted[0]].name,
            stored[wanted[0]].location,
        ):
            raise ApplicationError(
                f"The synthetic AEDs were generated with another seed than {seed}: "
                "use --replace to regenerate them."
            )
    missing = [source_id for source_id in wanted if source_id not in stored]
    summary = ImportSummary(unchanged=count - len(missing))
    if len(stored) > summary.unchanged:
        progress(
            f"Kept {len(stored) - summary.unchanged} synthetic AEDs beyond the requested size "
            "(use --replace to shrink)."
        )
    created = Defibrillator.objects.bulk_create(
        [_synthetic_aed(source_id, seed=seed, sampler=sampler) for source_id in missing],
        batch_size=1000,
    )
    summary.created = len(created)
    return summary


def synthetic_defibrillator_ensure(
    *, source_id: str, place_name: str, location: Point, placement: str
) -> tuple[Defibrillator, bool]:
    """A synthetic 24/7 public AED at a given spot (e.g. a corps' own), created once."""
    return Defibrillator.objects.get_or_create(
        source=Defibrillator.Source.SYNTHETIC,
        source_id=source_id,
        defaults={
            "synthetic": True,
            "name": SYNTHETIC_NAME.format(place_name),
            "location": location,
            "placement": placement,
            "opening_hours": "24/7",
            "access": Defibrillator.Access.PUBLIC,
        },
    )
