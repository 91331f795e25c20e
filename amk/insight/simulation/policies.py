"""The one mapping from a DispatchPolicy to what the simulator runs, and the presets compared
in docs/simulation.md. "Today's default" is literally ``DispatchPolicy()``."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from alerts.models import DispatchPolicy


@dataclass(frozen=True)
class SimPolicy:
    """The fields of a DispatchPolicy the simulation reads, plus how AEDs are sent for.

    ``aed_first_n``: None follows the platform's roles by time (alerts.services.roles: the
    first to arrive goes straight; one other fetches an AED if it gets there sooner through
    them, within ``aed_max_arrival_s``); a number n sends each of the first n acceptors for
    their nearest AED, as Hjerteløber does.
    """

    name: str
    mode: str
    app_volunteers_per_wave: int
    radius_m: int
    max_radius_m: int
    radius_step_m: int
    max_waves: int
    target_accepted: int
    outstanding_target: int
    escalate_after_s: int
    alert_valid_s: int
    travel_speed_mps: float
    detour_factor: float
    aed_search_radius_m: int
    aed_max_arrival_s: int
    aed_first_n: int | None = None

    @property
    def replace(self) -> bool:
        return self.mode == DispatchPolicy.Mode.REPLACE

    def most_alerts(self) -> int:
        """An upper bound on the alerts for one incident (the candidates to look at)."""
        if self.replace:
            return 10_000
        return self.app_volunteers_per_wave * self.max_waves


def sim_policy(
    policy: DispatchPolicy, *, name: str | None = None, aed_first_n: int | None = None
) -> SimPolicy:
    """What the simulator runs for this policy (saved or not)."""
    return SimPolicy(
        name=name or policy.name,
        mode=policy.mode,
        app_volunteers_per_wave=policy.app_volunteers_per_wave,
        radius_m=policy.radius_m,
        max_radius_m=policy.max_radius_m,
        radius_step_m=policy.radius_step_m,
        max_waves=policy.max_waves,
        target_accepted=policy.target_accepted,
        outstanding_target=policy.outstanding_target,
        escalate_after_s=policy.escalate_after_s,
        alert_valid_s=policy.alert_valid_s,
        travel_speed_mps=policy.travel_speed_mps,
        detour_factor=policy.detour_factor,
        aed_search_radius_m=policy.aed_search_radius_m,
        aed_max_arrival_s=policy.aed_max_arrival_s,
        aed_first_n=aed_first_n,
    )


def presets() -> dict[str, SimPolicy]:
    """The policies docs/simulation.md compares, by key: today's default first (the others
    are measured against it), each a DispatchPolicy with a few fields changed."""
    Mode = DispatchPolicy.Mode
    return {
        "default": sim_policy(DispatchPolicy(), name=str(_("Today's default"))),
        "hjertelober": sim_policy(
            DispatchPolicy(max_waves=1, radius_m=5000, max_radius_m=5000),
            name=str(_("Hjerteløber: 20 within 5 km, first 4 fetch an AED")),
            aed_first_n=4,
        ),
        "three_waves": sim_policy(
            DispatchPolicy(max_waves=3),
            name=str(_("Before: up to 3 waves, 5 → 7.5 → 10 km")),
        ),
        "replace7": sim_policy(
            DispatchPolicy(mode=Mode.REPLACE, outstanding_target=7),
            name=str(_("Phased: 7 nearest, replace each who drops out")),
        ),
        "replace12": sim_policy(
            DispatchPolicy(mode=Mode.REPLACE, outstanding_target=12),
            name=str(_("Phased: 12 nearest, replace each who drops out")),
        ),
        "waves10": sim_policy(
            DispatchPolicy(
                app_volunteers_per_wave=10, radius_m=2000, radius_step_m=1500, max_waves=3
            ),
            name=str(_("Phased: 10 within 2 km, then wider every minute")),
        ),
    }
