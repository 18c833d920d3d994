"""tools.classroom without a hub: which notebooks a simulated class runs, and the load-sensitive table."""

from __future__ import annotations

import pytest

from tools import catalog, classroom


def test_the_default_is_the_service_notebooks_and_all_means_every_notebook() -> None:
    assert [f[:2] for f in classroom.chosen_notebooks()] == ["08", "09", "12", "18"]
    assert classroom.chosen_notebooks(every=True) == [nb.file for nb in catalog.notebooks()]
    assert [f[:2] for f in classroom.chosen_notebooks(["18", "0", "10"])] == ["00", "10", "18"]
    with pytest.raises(ValueError, match="99"):
        classroom.chosen_notebooks(["10", "99"])


def test_the_report_lists_failed_cells_by_how_many_learners_they_failed_for() -> None:
    report = classroom.Report(3, notebooks=classroom.chosen_notebooks(["10", "18"]))
    report.failed_cells = {
        ("10", "code cell 15"): (["a"], "AssertionError: if this fails, is the machine busy"),
        ("18", "code cell 21"): (["a", "b", "c"], "AssertionError: "),
    }
    lines = report.lines()
    assert "(10+18)" in lines[2]
    start = lines.index("cells that failed (load-sensitive cells): 2")
    assert lines[start + 1].split()[:6] == ["18", "code", "cell", "21", "3", "of"]
    assert lines[start + 2].split()[:5] == ["10", "code", "cell", "15", "1"]
    assert "cells that failed (load-sensitive cells): none" in classroom.Report(1).lines()
