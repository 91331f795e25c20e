"""The structure the import contracts rely on: every module in a layer, modules that fit in a head.

lint-imports itself runs in tests/test_static_checks.py; these keep its contracts meaningful.
"""

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "amk", "volunteers", "alerts", "defibrillators")
MAX_MODULE_LINES = 400


def _modules() -> dict[str, Path]:
    """Every hand-written module of the apps by dotted name (migrations aside)."""
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _layer_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c for c in contracts if c.get("id") == "layers"]
    names = []
    for layer in layers["layers"]:
        names += [name.strip() for name in layer.replace("|", ":").split(":")]
    return names


def _imports_nothing(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return not any(isinstance(node, ast.Import | ast.ImportFrom) for node in ast.walk(tree))


def _gathers_for_django(name: str) -> bool:
    """A models package root: it imports its submodules for Django's app registry only."""
    return name.endswith(".models")


def test_every_module_belongs_to_a_layer():
    layers = _layer_modules()
    outside = [
        name
        for name, path in sorted(_modules().items())
        if name not in APPS
        and name != "config.settings_test"
        and not any(name == layer or name.startswith(f"{layer}.") for layer in layers)
        and not _imports_nothing(path)
        and not _gathers_for_django(name)
    ]
    assert not outside, (
        "Modules in no layer of the import contract (pyproject.toml, [tool.importlinter]): "
        f"{outside}. Put each in the layer it belongs to."
    )


def test_layer_names_exist():
    modules = _modules()
    missing = [name for name in _layer_modules() if name not in modules]
    assert not missing, f"Layers name modules that do not exist: {missing}"


@pytest.mark.parametrize("name", sorted(_modules()))
def test_module_fits_in_a_head(name):
    lines = len(_modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, (
        f"{name} has {lines} lines (at most {MAX_MODULE_LINES}): it does more than one job; "
        "split it by job."
    )
