"""Really execute notebooks and store their outputs: ``python -m tools execute [NOTEBOOK ...]``.

    python -m tools execute                         # every notebook in the catalog, in order
    python -m tools execute notebooks/03_tasks_and_futures.ipynb

Stored outputs must come from a real run (strict nbval compares against them), so this is the only
way outputs get into the repository. A notebook is written back only if every cell ran without an
error, except cells marked ``# NBVAL_RAISES_EXCEPTION``, which must raise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat

from tools import catalog
from tools.runner import run, unexpected_errors


def execute(path: Path, timeout: int = 600) -> list[str]:
    """Run one notebook in place; return the problems found (empty list: written back)."""
    nb = run(path, timeout=timeout)
    problems = unexpected_errors(nb)
    if not problems:
        nbformat.write(nb, path)
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools execute", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in the catalog")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)
    paths = args.notebooks or catalog.paths()
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
