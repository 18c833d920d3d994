"""Really execute notebooks and store their outputs: ``python -m helpers execute [NOTEBOOK ...]``.

    python -m helpers execute                         # every notebook in notebooks/
    python -m helpers execute notebooks/03_tasks_and_futures.ipynb

Stored outputs must come from a real run (strict nbval compares against them), so this is the only
way outputs get into the repository. A notebook is written back only if every cell ran without an
error, except cells marked ``# NBVAL_RAISES_EXCEPTION``, which must raise.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAISES_MARK = "NBVAL_RAISES_EXCEPTION"


def kernel_environment() -> dict[str, str]:
    """The environment a notebook kernel should see: no pytest markers, a fixed hash seed."""
    env = dict(os.environ)
    # ipykernel stops forwarding subprocess output (fd-level capture) when it sees this variable.
    env.pop("PYTEST_CURRENT_TEST", None)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def execute(path: Path, timeout: int = 600) -> list[str]:
    """Run one notebook in place; return the problems found (empty list: written back)."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,  # we decide below which errors were meant
        record_timing=False,  # keep diffs of re-executed notebooks small
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=kernel_environment())
    problems = unexpected_errors(nb)
    if not problems:
        nbformat.write(nb, path)
    return problems


def unexpected_errors(nb) -> list[str]:  # noqa: ANN001 - an nbformat NotebookNode
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers execute", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    failed = 0
    for path in paths:
        started = time.perf_counter()
        problems = execute(path, args.timeout)
        took = time.perf_counter() - started
        if problems:
            failed += 1
            print(f"✗ {path.name} ({took:.1f} s): not written", *problems, sep="\n    ", file=sys.stderr)
        else:
            print(f"✓ {path.name} ({took:.1f} s)")
    return 1 if failed else 0
