"""A class of two on a local JupyterHub: both learners run 08, 09, 12 and 18 at once, and stay apart.

``tools/classroom.py`` does the work (``python -m tools classroom simulate --learners 2``): it installs
the hub into ``.venv-hub`` if missing, starts JupyterHub on loopback ports, creates the learners
through its REST API and runs the notebooks in each learner's own kernel. Marked solo (the notebooks
assert timings, and the hub and four kernels want the machine) and services; skipped where the hub
cannot be installed (no npm for configurable-http-proxy).
"""

from __future__ import annotations

import secrets

import pytest

from tools import classroom

reason = classroom.hub_installable()
pytestmark = [
    pytest.mark.services,
    pytest.mark.solo,
    pytest.mark.hub,
    pytest.mark.skipif(reason is not None, reason=f"JupyterHub cannot be installed here: {reason}"),
]


def test_a_class_of_two_runs_the_service_notebooks_at_once_and_apart() -> None:
    report = classroom.simulate(2, prefix=f"t{secrets.token_hex(2)}_")
    print("\n".join(report.lines()))
    # Every cell ran as expected, each learner's data was theirs, resets removed one learner only and
    # left nothing, connections stayed in budget, and no process outlived the hub.
    assert not report.problems, "\n".join(report.problems)
    assert report.baseline_connections < report.peak_connections <= report.budget
    assert set(report.per_notebook_peak) == {"08", "09", "12", "18"}
    assert len(report.per_learner_s) == 2 and all(t > 0 for t in report.per_learner_s.values())
    assert report.peak_rss > report.idle_rss > 0
