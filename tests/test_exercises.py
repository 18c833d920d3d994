"""The learner edition: every check rejects its stub with a hint, and nothing else depends on a solution.

That each check rejects the learner stub of its solution, with ``CheckFailed`` and a hint, is checked
during strict nbval, in the notebook's own kernel (``tests/stub_checks.py``), and proven here on a
small notebook. That no other cell depends on a solved exercise is checked here without running
anything: no later cell uses a name a solution cell defines. ``LAB_FULL_LEARNER_RUN=1`` also executes
every learner notebook end to end (about two minutes) and requires exactly the check cells to fail.
Also: writing the learner edition never clobbers a learner's work.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from notebook_rules import RAISES, solution_and_check_pairs

from tools import catalog
from tools.edition import changed_by_learner, learner_notebook, write_learner_edition
from tools.runner import run

ROOT = Path(__file__).resolve().parent.parent
WITH_EXERCISES = [entry.file for entry in catalog.with_exercises()]
FULL_RUN = os.environ.get("LAB_FULL_LEARNER_RUN") == "1"
# Later cells that use a solution's name on purpose, and work with the stub as well.
USES_ALLOWED = {
    ("07_resilient_http.ipynb", "fetch_with_retries"): "counts its source lines (inspect), stub or not",
}


def python_of(cell_source: str) -> ast.Module:
    """The cell as the kernel compiles it (IPython's `!`, `%` and top-level await transformed)."""
    return ast.parse(TransformerManager().transform_cell(cell_source))


def names_defined(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


@pytest.mark.parametrize("name", WITH_EXERCISES)
def test_no_other_cell_uses_what_a_solution_defines(name: str) -> None:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    pairs = solution_and_check_pairs(nb)
    exercise_cells = {index for pair in pairs for index in pair}
    for solution, _ in pairs:
        defined = names_defined(python_of(nb.cells[solution].source))
        assert defined, f"cell {solution + 1}: a solution cell should define what its check calls"
        for index in range(solution + 1, len(nb.cells)):
            cell = nb.cells[index]
            if cell.cell_type != "code" or index in exercise_cells:
                continue
            used = {n.id for n in ast.walk(python_of(cell.source)) if isinstance(n, ast.Name)} & defined
            used -= {used_name for (nb_name, used_name) in USES_ALLOWED if nb_name == name}
            assert not used, (
                f"cell {index + 1} uses {sorted(used)} from solution cell {solution + 1}: in the learner "
                "edition it would see the stub; give the demo its own code"
            )


STUB_CHECK_NOTEBOOK = {
    "rejects": "    raise CheckFailed('double', f'double(2) gave {r!r}', 'multiply by two')",
    "accepts": "    pass",
}


@pytest.mark.parametrize("behaviour", ["rejects", "accepts"])
def test_strict_nbval_runs_each_stub_against_its_check(behaviour: str, tmp_path: Path) -> None:
    """The plugin in stub_checks.py, proven both ways on a notebook with one exercise."""
    check = "\n".join(
        [
            "from helpers.checks import CheckFailed",
            "try:",
            "    r = double(2)",
            "except NotImplementedError:",
            "    r = None",
            "if r != 4:",
            STUB_CHECK_NOTEBOOK[behaviour],
            "print('ok')",
        ]
    )
    solution = nbformat.v4.new_code_cell(
        "def double(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION",
        metadata={"tags": ["solution"]},
    )
    nb = nbformat.v4.new_notebook(cells=[solution, nbformat.v4.new_code_cell(check)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "exercise.ipynb"
    nbformat.write(nb, path)
    nbformat.write(run(path), path)  # stored outputs from a real run, as nbval expects
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--nbval",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-p",
            "stub_checks",
            "--rootdir",
            str(tmp_path),
            "-c",
            str(ROOT / "pyproject.toml"),
            str(path),
        ],
        cwd=ROOT / "tests",
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tests")},
    )
    if behaviour == "rejects":
        assert result.returncode == 0, result.stdout[-3000:]
    else:
        assert result.returncode == 1 and "the check passed the unsolved stub" in result.stdout, (
            result.stdout[-3000:]
        )


def run_learner_version(path: Path) -> tuple[nbformat.NotebookNode, list[tuple[int, int]]]:
    nb = learner_notebook(nbformat.read(path, as_version=4))
    pairs = solution_and_check_pairs(nb)
    return run(path, nb=nb), pairs


@pytest.mark.skipif(
    not FULL_RUN, reason="set LAB_FULL_LEARNER_RUN=1 to run every learner notebook end to end"
)
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
