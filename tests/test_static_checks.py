"""The static checks run by the suite, so that CI fails on them like on any test.

Each tool runs as its own process from the repository root, with the configuration in
pyproject.toml: mypy (models, services and selectors, with the Django and DRF plugins), ruff's
lint and format check, and lint-imports (the layer contracts). A failure shows the tool's output.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the tools installed beside this Python (the lock's dev part)


def run_tool(*command: str, timeout: float = 240) -> subprocess.CompletedProcess:
    executable = BIN / command[0]
    assert executable.exists(), (
        f"{command[0]} is not installed in {BIN}: install the dev lock (README, Development)"
    )
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [str(executable), *command[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("mypy",), id="mypy"),
        pytest.param(("ruff", "check", "."), id="ruff-check"),
        pytest.param(("ruff", "format", "--check", "."), id="ruff-format"),
        pytest.param(("lint-imports",), id="lint-imports"),
    ],
)
def test_static_check_passes(command):
    result = run_tool(*command)
    assert result.returncode == 0, (
        f"`{' '.join(command)}` exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
