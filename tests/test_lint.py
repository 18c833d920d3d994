"""Lint, format and types: ruff over helpers, tools, tests and the notebooks; mypy over helpers.

Their settings are in pyproject.toml. Fix with `ruff check --fix .` and `ruff format .` (a notebook's
stored outputs stay valid: formatting changes no behaviour, and strict nbval confirms it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_clean(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
