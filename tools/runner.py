"""The one notebook runner: every tool and test that executes a notebook goes through here.

nb = run(path)                                  # a fresh kernel, errors kept in the outputs
nb = run(path, nb=learner_notebook(...), env={"LAB_NAMESPACE": "x"}, cells=5)
problems = unexpected_errors(nb)                # [] when only NBVAL_RAISES_EXCEPTION cells raised
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

RAISES_MARK = "NBVAL_RAISES_EXCEPTION"


def kernel_environment(updates: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a notebook kernel should see: no pytest markers, a fixed hash seed."""
    env = dict(os.environ)
    # ipykernel stops forwarding subprocess output (fd-level capture) when it sees this variable.
    env.pop("PYTEST_CURRENT_TEST", None)
    env.setdefault("PYTHONHASHSEED", "0")
    env.update(updates or {})
    return env


def run(
    path: Path,
    *,
    nb: nbformat.NotebookNode | None = None,
    env: dict[str, str] | None = None,
    cells: int | None = None,
    timeout: int = 600,
) -> nbformat.NotebookNode:
    """Execute ``nb`` (default: the notebook at ``path``), or its first ``cells`` cells, in a fresh
    kernel whose working directory is the notebook's folder; every error stays in the outputs."""
    import nbclient

    nb = nb if nb is not None else nbformat.read(path, as_version=4)
    if cells is not None:
        nb.cells = nb.cells[:cells]
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,  # the caller decides which errors were meant
        record_timing=False,  # keep diffs of re-executed notebooks small
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=kernel_environment(env))
    return nb


def unexpected_errors(nb: nbformat.NotebookNode) -> list[str]:
    """Errors in cells not marked to raise, and marked cells that raised nothing."""
    problems = []
    for number, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        marked = RAISES_MARK in cell.source
        if errors and not marked:
            e = errors[0]
            problems.append(f"cell {number}: {e.ename}: {e.evalue}")
        if marked and not errors:
            problems.append(f"cell {number}: marked {RAISES_MARK} but raised nothing")
    return problems
