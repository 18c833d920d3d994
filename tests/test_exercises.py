"""Every exercise check rejects the learner stub of its solution, with a hint — and nothing else breaks.

Each notebook is executed once with every solution cell replaced by ``stub_of`` (what a learner
starts from). Then: each check cell must fail with ``CheckFailed`` carrying a hint, and every other
cell must run as in the solved notebook (so no demo depends on a solved exercise).
"""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

from helpers.checks import stub_of
from helpers.execute import kernel_environment
from notebook_rules import RAISES, solution_and_check_pairs

ROOT = Path(__file__).resolve().parent.parent
WITH_EXERCISES = [
    p.name
    for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if solution_and_check_pairs(nbformat.read(p, as_version=4))
]


def run_learner_version(path: Path) -> tuple[nbformat.NotebookNode, list[tuple[int, int]]]:
    nb = nbformat.read(path, as_version=4)
    pairs = solution_and_check_pairs(nb)
    for sol, _ in pairs:
        nb.cells[sol].source = stub_of(nb.cells[sol].source)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=kernel_environment())
    return nb, pairs


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
            assert errors[0].ename == "CheckFailed", f"cell {index + 1}: {errors[0].ename}: {errors[0].evalue}"
            assert "hint:" in errors[0].evalue, f"cell {index + 1}: failure without a hint"
        elif errors and not any(mark in cell.source for mark in RAISES):
            e = errors[0]
            pytest.fail(f"cell {index + 1} fails in the learner edition: {e.ename}: {e.evalue}")
