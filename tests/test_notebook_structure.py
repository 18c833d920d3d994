"""Every notebook follows the collection's shape and stores outputs from a real, clean run."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from notebook_rules import (
    LEAK_TEXTS,
    MACHINE_PATH,
    MAX_CODE_LINES,
    OFFICIAL_DOCS,
    PREDICT,
    RAISES,
    output_text,
    solution_and_check_pairs,
    tags,
)

from helpers.checks import SOLUTION_BEGIN, SOLUTION_END
from tools import catalog

ROOT = Path(__file__).resolve().parent.parent
PRESENT = [entry.file for entry in catalog.notebooks()]


def load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / name, as_version=4)


def test_the_catalog_lists_exactly_the_notebooks_on_disk() -> None:
    on_disk = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert PRESENT and sorted(PRESENT) == on_disk, "add the notebook to course.toml (or remove its entry)"


def test_nothing_the_catalog_generates_is_stale() -> None:
    assert catalog.stale() == [], "run `python -m tools catalog --write`"


@pytest.mark.parametrize("name", PRESENT)
def test_title_cell_has_heading_objectives_prerequisites_time_and_services(name: str) -> None:
    entry = catalog.by_file(name)
    first = load(name).cells[0]
    assert first.cell_type == "markdown"
    assert first.source.splitlines()[0].strip() == entry.heading, (
        "first line must be the catalog's '# NN · Title'"
    )
    assert catalog.TIME_LINE.search(first.source), "say '**Time** about N minutes'"
    services = first.source.split("Services", 1)[-1]
    for service in entry.services:
        assert catalog.SERVICE_NAMES[service] in services, f"the Services line should name the {service}"
    text = first.source.lower()
    for word in ("objectives", "prerequisites", "time", "services"):
        assert word in text, f"title cell lacks '{word}'"
    objectives = re.findall(r"^\s*[-*\d.]+\s+\S", first.source.split("bjectives", 1)[1], re.M)
    assert len(objectives) >= 3, "list 3–5 learning objectives"


@pytest.mark.parametrize("name", PRESENT)
def test_kernelspec_is_python3(name: str) -> None:
    spec = load(name).metadata.get("kernelspec", {})
    assert spec.get("name") == "python3" and spec.get("language") == "python"


@pytest.mark.parametrize("name", PRESENT)
def test_every_code_cell_was_executed_in_order(name: str) -> None:
    counts = [c.execution_count for c in load(name).cells if c.cell_type == "code" and c.source.strip()]
    assert None not in counts, "run `make execute` so every code cell has stored outputs"
    assert counts == list(range(1, len(counts) + 1)), "outputs must come from one top-to-bottom run"


@pytest.mark.parametrize("name", PRESENT)
def test_no_unexpected_errors_leaks_or_machine_paths(name: str) -> None:
    for number, cell in enumerate(load(name).cells, 1):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            assert any(mark in cell.source for mark in RAISES), (
                f"cell {number}: error without NBVAL_RAISES_EXCEPTION"
            )
        text = output_text(cell)
        if "demo" not in tags(cell):
            leaked = [t for t in LEAK_TEXTS if t in text]
            assert not leaked, f"cell {number}: output shows {leaked} (tag 'demo' if on purpose)"
        assert not MACHINE_PATH.search(text), f"cell {number}: a machine path in a stored output"


@pytest.mark.parametrize("name", PRESENT)
def test_code_cells_are_short_and_use_modern_asyncio(name: str) -> None:
    for number, cell in enumerate(load(name).cells, 1):
        if cell.cell_type != "code" or "demo" in tags(cell):
            continue
        # Blank lines do not count: the formatter puts them between definitions, and they cost no reading.
        lines = [line for line in cell.source.splitlines() if line.strip()]
        assert len(lines) <= MAX_CODE_LINES, f"cell {number}: {len(lines)} lines of code; split it"
        assert "get_event_loop(" not in cell.source, f"cell {number}: use asyncio.get_running_loop()"
        assert "time.time()" not in cell.source, f"cell {number}: time durations with time.perf_counter()"
        assert "nbval-lax" not in cell.source


@pytest.mark.parametrize("name", PRESENT)
def test_the_last_cell_links_to_the_neighbours(name: str) -> None:
    last_cell = load(name).cells[-1]
    assert last_cell.cell_type == "markdown" and catalog.NAV_MARK in tags(last_cell)
    assert last_cell.source == catalog.navigation(PRESENT.index(name))


@pytest.mark.parametrize("name", PRESENT)
def test_exercises_have_a_solution_block_and_a_check(name: str) -> None:
    nb = load(name)
    pairs = solution_and_check_pairs(nb)
    called = [re.findall(r"\.check_(\w+)\(", nb.cells[chk].source) for _, chk in pairs]
    assert [names[0] if names else None for names in called] == list(catalog.by_file(name).exercises), (
        "course.toml's exercises must be the checks the exercise cells call, in order"
    )
    if name != "00_start_here.ipynb":
        assert len(pairs) >= 2, "at least two exercises"
    else:
        assert len(pairs) >= 1, "one worked exercise"
    for sol, chk in pairs:
        assert SOLUTION_BEGIN in nb.cells[sol].source and SOLUTION_END in nb.cells[sol].source
        assert chk < len(nb.cells), "a solution cell must be followed by its check cell"
        check = nb.cells[chk]
        assert check.cell_type == "code" and "check" in check.source, (
            f"cell {chk + 1} must call a helpers.checks check"
        )
        assert any("✓" in o.get("text", "") for o in check.outputs), (
            f"cell {chk + 1}: the reference solution must pass"
        )


@pytest.mark.parametrize("name", PRESENT)
def test_every_figure_is_followed_by_a_caption(name: str) -> None:
    cells = load(name).cells
    for index, cell in enumerate(cells):
        has_figure = cell.cell_type == "code" and any("image/png" in o.get("data", {}) for o in cell.outputs)
        if has_figure:
            after = cells[index + 1] if index + 1 < len(cells) else None
            assert after is not None and after.cell_type == "markdown", (
                f"cell {index + 1}: say what to look at in the figure"
            )


@pytest.mark.parametrize("name", PRESENT)
def test_nbval_markers_stand_alone_so_nbval_sees_them(name: str) -> None:
    # nbval only honours a comment line that is exactly the marker; "# NBVAL_IGNORE_OUTPUT (why)" is
    # silently ignored and the output is compared after all. Put the reason on the next line.
    for number, cell in enumerate(load(name).cells, 1):
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if "NBVAL_" in line and line.lstrip().startswith("#"):
                assert re.fullmatch(r"#\s*NBVAL_[A-Z_]+\s*", line.strip()), f"cell {number}: {line.strip()!r}"


@pytest.mark.parametrize("name", PRESENT)
def test_the_summary_points_to_the_official_documentation(name: str) -> None:
    summaries = [c for c in load(name).cells if c.cell_type == "markdown" and "## Summary" in c.source]
    assert len(summaries) == 1, "one markdown cell with a '## Summary' heading"
    summary = summaries[0].source
    assert "**Further reading.**" in summary, "the summary ends its bullets with **Further reading.**"
    reading = summary[summary.index("**Further reading.**") :]
    hosts = re.findall(r"\]\(https://([^/)]+)", reading)
    official = [host for host in hosts if host in OFFICIAL_DOCS]
    assert len(official) >= 2, f"at least two links to official docs (tests/notebook_rules.py), found {hosts}"


@pytest.mark.parametrize("name", PRESENT)
def test_measurements_ask_for_a_prediction_first(name: str) -> None:
    cells = load(name).cells
    prompts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and PREDICT in c.source]
    assert len(prompts) >= (1 if name.startswith("00_") else 2), f"at least two '{PREDICT}:' prompts"
    for index in prompts:
        assert index + 1 < len(cells) and cells[index + 1].cell_type == "code", (
            f"cell {index + 1}: a prediction prompt comes right before the cell that measures"
        )
