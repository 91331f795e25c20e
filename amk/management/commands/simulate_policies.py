"""Run dispatch policies side by side on the region's own data and write the report."""

import json
import shlex
from pathlib import Path

from django.core.management.base import CommandError, CommandParser
from django.utils import translation

from alerts.models import DispatchPolicy
from amk.insight.simulation.inputs import behaviour_fitted, ems_configured, region_load
from amk.insight.simulation.markdown import report_markdown
from amk.insight.simulation.params import Clinical
from amk.insight.simulation.policies import presets, sim_policy
from amk.insight.simulation.report import charts, report_json
from amk.insight.simulation.run import draws_baseline_s, run_policies
from amk.insight.simulation.validation import closed_form_check, plos_direction_check
from config.imports import ReportingCommand

RUNTIME_TARGET_S = 60.0


class Command(ReportingCommand):
    help = (
        "Simulate dispatch policies on the region's incidents (past, or population-weighted "
        "synthetic), app volunteers and AEDs: the presets of docs/simulation.md and any saved "
        "DispatchPolicy given with --policy. Writes simulation.json, simulation.md and the "
        "simulation-*.svg plots to --out; --benchmark adds simulation_runtime_s to that JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incidents", type=int, default=10_000)
        parser.add_argument("--out", type=Path, default=Path("docs"))
        parser.add_argument("--source", choices=["auto", "past", "synthetic"], default="auto")
        parser.add_argument("--seed", type=int, default=16)
        parser.add_argument(
            "--policy", type=int, action="append", default=[], help="a saved DispatchPolicy id"
        )
        parser.add_argument(
            "--benchmark", type=Path, help="docs/benchmarks.json to add the runtime to"
        )

    def run(self, **options) -> None:
        # The report is documentation: in English, as the docs are.
        with translation.override("en"):
            self._run(**options)

    def _run(self, **options) -> None:
        if not 1 <= options["incidents"] <= 1_000_000:
            raise CommandError("--incidents must be from 1 to 1,000,000")
        policies = presets()
        for pk in options["policy"]:
            saved = DispatchPolicy.objects.filter(pk=pk).first()
            if saved is None:
                raise CommandError(f"--policy {pk}: no such dispatch policy")
            policies[f"policy-{pk}"] = sim_policy(saved)
        self.progress("Reading the region")
        region = region_load(
            incidents=options["incidents"], source=options["source"], seed=options["seed"]
        )
        if len(region.incident_xy) == 0 or len(region.volunteer_xy) == 0:
            raise CommandError(
                "No incidents or no volunteers with a position: seed the region first."
            )
        behaviour, clinical, ems = behaviour_fitted(), Clinical(), ems_configured()
        self.progress("Validation")
        validation = {"closed_form": closed_form_check(), "plos_direction": plos_direction_check()}
        self.progress(
            f"Simulating {len(region.incident_xy):,} incidents × {len(policies)} policies"
        )
        result = run_policies(
            region, policies, behaviour=behaviour, clinical=clinical, ems=ems, seed=options["seed"]
        )
        data = report_json(
            result,
            validation=validation,
            behaviour=behaviour,
            clinical=clinical,
            ems=ems,
            source=region.source,
            volunteers=len(region.volunteer_xy),
            aeds=len(region.aed_xy),
        )
        out: Path = options["out"]
        out.mkdir(parents=True, exist_ok=True)
        (out / "simulation.json").write_text(
            json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        for name, svg in charts(result.figures, result.curves).items():
            (out / name).write_text(svg, encoding="utf-8")
        args = ["--incidents", str(options["incidents"]), "--out", str(out)]
        if options["source"] != "auto":
            args += ["--source", options["source"]]
        if options["seed"] != 16:
            args += ["--seed", str(options["seed"])]
        command = "python manage.py " + shlex.join(["simulate_policies", *args])
        (out / "simulation.md").write_text(report_markdown(data, command=command), encoding="utf-8")
        verdict = "passed" if data["validation"]["passed"] else "FAILED"
        supported = result.figures[data["supported_policy"]]["name"]
        self.progress(
            f"Runtime {result.runtime_s:.2f} s; validation {verdict}; supported: {supported}"
        )
        if options["benchmark"]:
            self._benchmark(
                options["benchmark"], region, behaviour, result.runtime_s, len(policies)
            )

    def _benchmark(self, path: Path, region, behaviour, runtime_s: float, policies: int) -> None:
        """Add the runtime and its baseline (the same draws, one numpy pass per policy, timed
        now) to the benchmarks' JSON, keeping every other figure."""
        baseline = draws_baseline_s(region, behaviour=behaviour, policies=policies)
        figures = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        figures["simulation_runtime_s"] = runtime_s
        figures["simulation_baseline_s"] = baseline
        figures["simulation_ratio"] = round(runtime_s / baseline, 1) if baseline else None
        figures["simulation_size"] = f"{len(region.incident_xy)} incidents × {policies} policies"
        figures.setdefault("targets_met", {})["simulation 10k × 6 ≤ 60 s"] = (
            runtime_s <= RUNTIME_TARGET_S
        )
        path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.progress(f"Benchmark: {runtime_s:.2f} s against a {baseline:.3f} s baseline")
