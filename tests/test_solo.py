"""Under two xdist workers, a test marked solo runs while no other test runs (conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import clean_env

ROOT = Path(__file__).resolve().parent.parent


def test_a_solo_test_overlaps_no_other_test(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "load"]
        + ["tests/solo_probe.py"],
        cwd=ROOT,
        env=clean_env(SOLO_PROBE_LOG=str(log)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    runs = {
        name: (float(a), float(b)) for name, a, b in (line.split() for line in log.read_text().splitlines())
    }
    assert len(runs) == 7
    start, end = runs.pop("solo")
    overlapping = [name for name, (a, b) in runs.items() if a < end and start < b]
    assert not overlapping, f"ran beside the solo test: {overlapping}"
    # The probe is not vacuous: without the rule, two workers do run shared tests side by side.
    shared = sorted(runs.values())
    assert any(b > a2 for (_, b), (a2, _) in zip(shared, shared[1:], strict=False))
