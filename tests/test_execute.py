"""`python -m tools execute` stores outputs only from a clean real run."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from tools.execute import execute


def _write(path: Path, *sources: str) -> Path:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_clean_run_is_written_back_with_outputs(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ok.ipynb",
        "import asyncio\nawait asyncio.sleep(0)\nprint('hi')",
        "# NBVAL_RAISES_EXCEPTION\n1 / 0",
    )
    assert execute(path) == []
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].outputs[0].text == "hi\n" and cells[0].execution_count == 1
    assert cells[1].outputs[0].ename == "ZeroDivisionError"


def test_an_unexpected_error_or_a_marked_cell_that_does_not_raise_is_not_written(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.ipynb", "1 / 0", "# NBVAL_RAISES_EXCEPTION\nx = 1")
    before = path.read_text()
    problems = execute(path)
    assert any("ZeroDivisionError" in p for p in problems)
    assert any("raised nothing" in p for p in problems)
    assert path.read_text() == before
