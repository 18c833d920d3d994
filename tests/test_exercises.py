"""Every exercise check rejects the learner stub of its solution, with a hint — and nothing else breaks.

Each notebook's learner edition (``tools.edition.learner_notebook``: solutions replaced by their
stubs, outputs cleared) is executed once. Then: each check cell must fail with ``CheckFailed``
carrying a hint, and every other cell must run as in the solved notebook (so no demo depends on a
solved exercise). Also: writing the learner edition never clobbers a learner's work.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from notebook_rules import RAISES, solution_and_check_pairs

from tools import catalog
from tools.edition import changed_by_learner, learner_notebook, write_learner_edition
from tools.runner import run

ROOT = Path(__file__).resolve().parent.parent
WITH_EXERCISES = [entry.file for entry in catalog.with_exercises()]


def run_learner_version(path: Path) -> tuple[nbformat.NotebookNode, list[tuple[int, int]]]:
    nb = learner_notebook(nbformat.read(path, as_version=4))
    pairs = solution_and_check_pairs(nb)
    return run(path, nb=nb), pairs


@pytest.mark.parametrize("name", WITH_EXERCISES)
def test_checks_reject_the_learner_stubs_and_only_they_fail(name: str) -> None:
    nb, pairs = run_learner_version(ROOT / "notebooks" / name)
    check_cells = {chk for _, chk in pairs}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if index in check_cells:
            assert errors, f"cell {index + 1}: the check passed the unsolved stub"
            assert errors[0].ename == "CheckFailed", (
                f"cell {index + 1}: {errors[0].ename}: {errors[0].evalue}"
            )
            assert "hint:" in errors[0].evalue, f"cell {index + 1}: failure without a hint"
        elif errors and not any(mark in cell.source for mark in RAISES):
            e = errors[0]
            pytest.fail(f"cell {index + 1} fails in the learner edition: {e.ename}: {e.evalue}")


def test_learner_edition_clears_outputs_and_keeps_no_solution(tmp_path: Path) -> None:
    paths = write_learner_edition(tmp_path / "learner")
    assert [p.name for p in paths] == [entry.file for entry in catalog.notebooks()]
    for path in paths:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
                assert "# BEGIN SOLUTION" not in cell.source


def test_learner_edition_refuses_to_overwrite_a_learners_changes(tmp_path: Path) -> None:
    folder = tmp_path / "learner"
    first = write_learner_edition(folder)
    write_learner_edition(folder)  # unchanged since written: refreshing is fine
    first[0].write_text(first[0].read_text().replace("Start here", "My notes"))
    assert changed_by_learner(folder) == [first[0].name]
    with pytest.raises(FileExistsError, match="--force"):
        write_learner_edition(folder)
    assert "My notes" in first[0].read_text()
    write_learner_edition(folder, force=True)
    assert "My notes" not in first[0].read_text()
