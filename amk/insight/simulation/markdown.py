# ruff: noqa: E501  (Markdown table rows read best unbroken)
"""docs/simulation.md, written from a run's JSON: the tables, the plots, the validation, the
policy the figures support, the assumptions and the references."""

from amk.insight.simulation.report import chart_legend


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _policy_table(figures: dict[str, dict]) -> list[str]:
    lines = [
        "| # | policy | volunteer before EMS | AED before EMS | expected survival | Δ vs #1 (95 % CI) "
        "| lives/year vs EMS only | alerts/incident | redundant arrivals | alerts/volunteer/month "
        "| median first arrival |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, f in enumerate(figures.values(), start=1):
        median = f["median_first_arrival_min"]
        lines.append(
            f"| {i} | {f['name']} | {_pct(f['volunteer_before_ems_share'])} "
            f"| {_pct(f['aed_before_ems_share'])} | {_pct(f['expected_survival'])} "
            f"| {100 * f['survival_diff_vs_first']:+.2f} ± {100 * f['survival_diff_ci95']:.2f} pp "
            f"| {f['lives_per_year_vs_ems_only']:.1f} | {f['alerts_per_incident']:.1f} "
            f"| {f['redundant_arrivals_per_incident']:.2f} | {f['alerts_per_volunteer_per_month']:.2f} "
            f"| {'–' if median is None else f'{median:.1f} min'} |"
        )
    return lines


def _discussion(figures: dict[str, dict], supported_key: str) -> str:
    """What the comparison says about today's default, from the figures."""
    keys = list(figures)
    default, chosen = figures[keys[0]], figures[supported_key]
    text = (
        f"{default['name']} (policy #1) reaches {_pct(default['expected_survival'])} with "
        f"{default['alerts_per_incident']:.1f} alerts per incident "
        f"({default['alerts_per_volunteer_per_month']:.2f} per volunteer per month) and an AED "
        f"before the ambulance in {_pct(default['aed_before_ems_share'])} of incidents. "
    )
    if supported_key == keys[0]:
        return (
            text + "No other policy here matches its survival with less load: the default stands."
        )
    return text + (
        f"{chosen['name']} reaches {_pct(chosen['expected_survival'])} "
        f"({100 * chosen['survival_diff_vs_first']:+.2f} ± {100 * chosen['survival_diff_ci95']:.2f} "
        f"pp, paired) with {chosen['alerts_per_incident']:.1f} alerts per incident "
        f"({chosen['alerts_per_volunteer_per_month']:.2f} per volunteer per month) and an AED "
        f"before the ambulance in {_pct(chosen['aed_before_ems_share'])}."
    )


def _reading(figures: dict[str, dict]) -> str:
    """What else the figures say: the AED rule, the extra waves, the replace policies."""
    parts = []
    first = next(iter(figures.values()))
    hj = figures.get("hjertelober")
    if hj is not None:
        parts.append(
            f"Sending each of the first four to accept for an AED (Hjerteløber) brings an AED "
            f"before the ambulance in {_pct(hj['aed_before_ems_share'])} of incidents against "
            f"{_pct(first['aed_before_ems_share'])} with the platform's roles by time, but it "
            f"takes them off the direct way: a volunteer before the ambulance in "
            f"{_pct(hj['volunteer_before_ems_share'])} against "
            f"{_pct(first['volunteer_before_ems_share'])}. Larsen's model weighs a minute to "
            "CPR twice a minute to the shock, so the net is "
            f"{100 * hj['survival_diff_vs_first']:+.2f} pp. The roles by time send someone for "
            "an AED only when it arrives within `aed_max_arrival_s` (720 s) at the policy's "
            "2.3 m/s × 1.3 detour, i.e. a way of at most about 1.3 km in a straight line, so in "
            "most incidents the AED comes with the ambulance: a survival function that weighs "
            "the shock more (or a faster speed estimate) would favour more AED runs."
        )
    three = figures.get("three_waves")
    if three is not None:
        parts.append(
            f"Further, wider waves (up to 10 km) double the alerts "
            f"({three['alerts_per_incident']:.1f} against {first['alerts_per_incident']:.1f} per "
            f"incident) for {100 * three['survival_diff_vs_first']:+.2f} pp: volunteers 5 to 10 km "
            "away, alerted a minute or two later, rarely beat an ambulance that comes in about "
            "eight minutes. That is why the default became one wave."
        )
    r7 = figures.get("replace7")
    if r7 is not None:
        parts.append(
            f"Alerting the 7 nearest and replacing each who drops out (the PLOS One winner at "
            f"30 within 1 km) needs the fewest alerts ({r7['alerts_per_incident']:.1f} per "
            f"incident) but costs {100 * -r7['survival_diff_vs_first']:.2f} pp here, about "
            f"{first['lives_per_year_vs_ems_only'] - r7['lives_per_year_vs_ems_only']:.1f} lives "
            "a year: outside the cities the demo region is far sparser than 30 within 1 km, and "
            "the seven nearest are then too few and too far."
        )
    return "\n\n".join(parts)


def report_markdown(data: dict, *, command: str, discussion: str = "") -> str:
    v = data["validation"]
    closed, plos = v["closed_form"], v["plos_direction"]
    figures = data["policies"]
    supported_key = data["supported_policy"]
    a = data["assumptions"]
    b, c, e = a["behaviour"], a["clinical"], a["ems"]
    region = data["region"]
    out = [
        "# Policy simulator: dispatch policies side by side",
        "",
        f"Written by `{command}` (amk/insight/simulation). Do not edit by hand: run it again.",
        "",
        f"{data['incidents']:,} incidents ({region['incidents_source']}: "
        + (
            "population-weighted synthetic arrests around the region's places, BY3 populations"
            if region["incidents_source"] == "synthetic"
            else "the region's past incidents, resampled"
        )
        + f"), {region['volunteers']:,} app volunteers with a position and {region['aeds']:,} "
        "AEDs anyone may fetch (opening hours by the incident's hour), every policy on the same "
        f"random draws. Runtime of the whole run: **{data['runtime_s']:.2f} s** "
        "(vectorised numpy; the database reads before it are not counted).",
        "",
        "## Validation",
        "",
        "| check | statistic | tolerance | result |",
        "|---|---|---|---|",
        f"| first arrival vs the Poisson model's closed form (KS, n = {closed['n']:,}, "
        f"λ = {closed['density_per_km2']:g}/km², p = {closed['p_accept']:g}) "
        f"| {closed['statistic']:.4f} | {closed['tolerance']:.4f} (1.36/√n) "
        f"| {'passed' if closed['passed'] else 'FAILED'} |",
        f"| negative control: the same sample against λ × 1.25 "
        f"| {closed['negative_control']['statistic']:.4f} | {closed['tolerance']:.4f} "
        f"| {'rejected, as it must be' if closed['negative_control']['rejected'] else 'NOT rejected'} |",
        f"| PLOS One direction, 30 within 1 km: alerts ({plos['policies'][0]} vs "
        f"{plos['policies'][1]}) | {plos['alerts_per_incident'][0]} vs "
        f"{plos['alerts_per_incident'][1]} | fewer | "
        f"{'passed' if plos['alerts_per_incident'][0] < plos['alerts_per_incident'][1] else 'FAILED'} |",
        f"| … and survival | {_pct(plos['survival'][0])} vs {_pct(plos['survival'][1])} "
        f"| within {100 * plos['margin']:.0f} pp | {'passed' if plos['passed'] else 'FAILED'} |",
        "",
        "The closed form (van den Berg, Henderson, Jagtenberg & Li 2025): volunteers a Poisson "
        "process of density λ, each accepting with probability p, a constant answer delay δ and "
        "speed v along a way `detour` × the straight line: P(T ≤ t) = 1 − exp(−λpπ((t − δ)v / "
        "detour)²). The test runs the simulator's own alerting, answers and travel code "
        "(tests/amk/test_simulation.py runs the same checks).",
        "",
        "## Policies",
        "",
        *_policy_table(figures),
        "",
        f"EMS only (no volunteers): expected survival {_pct(data['ems_only_survival'])}. "
        "Δ is the paired difference to policy #1 (today's default) over the same incidents and "
        "draws, with its 95 % interval.",
        "",
        "Numbers in the charts: "
        + "; ".join(f"{n}: {name}" for n, name in chart_legend(figures))
        + ".",
        "",
        "| | |",
        "|---|---|",
        "| ![Expected survival](simulation-survival.svg) | ![Before the ambulance](simulation-before-ems.svg) |",
        "| ![Load per incident](simulation-load.svg) | ![First volunteer on scene](simulation-first-arrival.svg) |",
        "",
        "## Which policy the figures support",
        "",
        "The rule, fixed before the run: of the policies within one expected life a year (in "
        "the region, `SIMULATION_INCIDENTS_PER_YEAR` arrests) of the best, the one that alerts "
        "each volunteer least often per month; ties by the expected survival. Here: "
        f"**{figures[supported_key]['name']}**.",
        "",
        _discussion(figures, supported_key),
        "",
        _reading(figures),
        "",
        discussion,
        "",
        "## Assumptions",
        "",
        f"- Volunteers' behaviour ({b['source']}): accept {b['p_accept']:.0%}, decline "
        f"{b['p_decline']:.0%}, the rest never answer and expire after the policy's "
        f"`alert_valid_s`; answer after a lognormal delay, median {b['answer_median_s']:.0f} s "
        f"(log-sd {b['answer_sigma']:.2f}); travel along the straight line × {b['detour_factor']} "
        f"at a speed linear in the distance, {b['speed_intercept_mps']} m/s + "
        f"{b['speed_per_km_mps']} m/s per km, within {b['speed_min_mps']}–{b['speed_max_mps']} "
        "m/s (on foot near, by bike or car farther: the form van den Berg et al. fitted on "
        "GoodSAM data; the coefficients here are assumptions). Acceptance and delay are fitted "
        "from the platform's own app alerts once there are 200 (`inputs.behaviour_fitted`).",
        f"- Clinical: alerts go out {c['collapse_to_alert_s']:.0f} s after the collapse; the "
        f"first shock {c['arrival_to_shock_s']:.0f} s after an AED or the ambulance arrives; "
        f"advanced care {c['ems_arrival_to_acls_s']:.0f} s after the ambulance; no bystander "
        "CPR before the first volunteer (so the figures compare policies, not the region's "
        "survival); volunteers stop being alerted when the ambulance arrives.",
        f"- Ambulance from the alert: lognormal, median {e['default_median_s']:.0f} s, IQR "
        f"{e['default_iqr_s']:.0f} s, by municipality where `SIMULATION_EMS_BY_MUNICIPALITY` "
        "says so (an assumption, not Region Midtjylland's published figures, which were not "
        "available offline; set them in settings).",
        "- Survival: Larsen et al. 1993, survival = 67 % − 2.3 %/min to CPR − 1.1 %/min to "
        "defibrillation − 2.1 %/min to advanced care, clipped at 0 (witnessed VF arrests).",
        "- Roles: the platform's roles by time (alerts.services.roles) on the final set of "
        "responders: the first expected on scene goes straight, one other fetches an AED if it "
        "gets there sooner through them and within `aed_max_arrival_s` (estimated with the "
        "policy's speed and detour factor, alerts.selectors.routing.travel_seconds). "
        "Hjerteløber's practice: each of the first four to accept fetches their nearest AED.",
        "- Only the app pool is simulated (the 1-1-2 corps is alerted in full besides, by SMS, "
        "in every policy alike). AEDs that are private are left out; an AED is never in use "
        "elsewhere. A redundant arrival: a volunteer on scene before the ambulance who is "
        "neither the first there nor the first with an AED.",
        "- Replace mode frees a slot at every answer (an acceptance too) and at every expiry, "
        "and refills it at once; the platform refills after a decline, an expiry or a "
        "withdrawal, and its periodic check tops up the rest.",
        "- The demo's synthetic volunteers live around the same populated places as the "
        "synthetic incidents are drawn around: the shares before the ambulance are optimistic; "
        "the comparison between policies on the same draws is what the figures are for.",
        "- By hour: each volunteer's quiet hours and each AED's opening hours at the "
        "incident's hour (arrests drawn fewer at night). Not modelled: volunteers' positions by "
        "hour (the platform keeps only the latest, which serves every hour); bystander CPR; AEDs "
        "in use elsewhere; simultaneous incidents and rest periods; the corps.",
        "- Alerts per volunteer per month: alerts per incident × "
        "`SIMULATION_INCIDENTS_PER_YEAR` / 12 / the volunteers with a position.",
        "",
        "## References",
        "",
        *[f"- {r}" for r in data["references"]],
        "",
    ]
    return "\n".join(out)
