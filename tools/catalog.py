"""The course catalog (``course.toml``): the one list of the notebooks, and what is generated from it.

    python -m tools catalog --check     # exit 1 and name every stale generated part (a test runs this)
    python -m tools catalog --write     # regenerate them after editing course.toml

Generated from the catalog: the notebook table in README.md and the per-notebook table in
docs/instructor-guide.md (each between ``<!-- catalog:NAME -->`` and ``<!-- /catalog:NAME -->``), the
"about N minutes" of each notebook's **Time** line, and each notebook's last cell, the navigation to
its neighbours. Every tool and test takes the notebook list, order, titles and exercises from here.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "course.toml"
NOTEBOOKS = ROOT / "notebooks"  # the solved reference, tested by strict nbval
LEARNER = ROOT / "learner"  # the learner edition of the same notebooks (tools/edition.py writes it)
SERVICE_CODES = {"lab": "L", "postgres": "PG", "redis": "R"}
SERVICE_NAMES = {"lab": "lab server", "postgres": "PostgreSQL", "redis": "Redis"}
TIME_LINE = re.compile(r"(\*\*Time:?\*\*:? about )(\d+)( minutes)")
NAV_MARK = "nav"  # the tag of each notebook's generated navigation cell


@dataclass(frozen=True)
class Notebook:
    """One catalog entry."""

    number: int
    file: str
    title: str
    part: int
    minutes: int
    services: tuple[str, ...]
    exercises: tuple[str, ...]
    topics: str
    executes_s: float
    assign: str

    @property
    def path(self) -> Path:
        return NOTEBOOKS / self.file

    @property
    def label(self) -> str:
        """``"03 · Tasks and futures"``: the notebook's heading without the ``#``."""
        return f"{self.number:02d} · {self.title}"

    @property
    def heading(self) -> str:
        return f"# {self.label}"


@cache
def notebooks(catalog: Path = CATALOG) -> tuple[Notebook, ...]:
    """Every notebook of the course, in order."""
    entries = tomllib.loads(catalog.read_text())["notebook"]
    found = tuple(
        Notebook(**{**entry, "services": tuple(entry["services"]), "exercises": tuple(entry["exercises"])})
        for entry in entries
    )
    numbers = [nb.number for nb in found]
    if numbers != sorted(set(numbers)) or any(not nb.file.startswith(f"{nb.number:02d}_") for nb in found):
        raise ValueError(f"{catalog.name}: notebooks must be numbered in order, file names starting NN_")
    unknown = {s for nb in found for s in nb.services} - SERVICE_CODES.keys()
    if unknown:
        raise ValueError(f"{catalog.name}: unknown services {sorted(unknown)}")
    return found


def paths() -> list[Path]:
    """The notebook files, in course order."""
    return [nb.path for nb in notebooks()]


def by_file(name: str) -> Notebook:
    return next(nb for nb in notebooks() if nb.file == name)


def with_exercises() -> list[Notebook]:
    return [nb for nb in notebooks() if nb.exercises]


# ---- what is generated ---------------------------------------------------------------------------


def readme_table() -> str:
    """Each title opens the learner edition; "reference" opens the solved notebook."""
    lines = ["| # | notebook | topics | time | services |", "|---|---|---|---|---|"]
    for nb in notebooks():
        services = ", ".join(SERVICE_CODES[s] for s in nb.services) or "—"
        lines.append(
            f"| {nb.number:02d} | [{nb.title}](learner/{nb.file}) ([reference](notebooks/{nb.file})) | "
            f"{nb.topics} | {nb.minutes} min | {services} |"
        )
    return "\n".join(lines)


def guide_table() -> str:
    lines = ["| # | notebook | executes in | teach in | assign |", "|---|---|---|---|---|"]
    lines += [
        f"| {nb.number:02d} | {nb.title} | {nb.executes_s:.1f} s | {nb.minutes} min | {nb.assign} |"
        for nb in notebooks()
    ]
    return "\n".join(lines)


def navigation(index: int) -> str:
    """The last cell of the notebook at ``index``: links to its neighbours (the last one, to the start)."""
    entries = notebooks()
    parts = []
    if index > 0:
        before = entries[index - 1]
        parts.append(f"← [{before.label}]({before.file})")
    if index + 1 < len(entries):
        after = entries[index + 1]
        parts.append(f"[{after.label}]({after.file}) →")
    else:
        parts.append(f"[{entries[0].label}]({entries[0].file}) (back to the start) ↺")
    return " · ".join(parts)


def _replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- catalog:{name} -->\n).*?(\n<!-- /catalog:{name} -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"no <!-- catalog:{name} --> block to fill")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def _notebook_with_generated_parts(index: int) -> nbformat.NotebookNode:
    entry = notebooks()[index]
    nb = nbformat.read(entry.path, as_version=4)
    first = nb.cells[0]
    first.source = TIME_LINE.sub(lambda m: f"{m.group(1)}{entry.minutes}{m.group(3)}", first.source)
    last = nb.cells[-1]
    if last.cell_type != "markdown" or NAV_MARK not in last.get("metadata", {}).get("tags", []):
        last = nbformat.v4.new_markdown_cell(metadata={"tags": [NAV_MARK]})
        nb.cells.append(last)
    last.source = navigation(index)
    return nb


def _generated_files() -> list[tuple[Path, Callable[[], str]]]:
    """(file, what it should contain) for every file the catalog generates parts of."""
    readme, guide = ROOT / "README.md", ROOT / "docs" / "instructor-guide.md"
    files: list[tuple[Path, Callable[[], str]]] = [
        (readme, lambda: _replace_block(readme.read_text(), "notebooks", readme_table())),
        (guide, lambda: _replace_block(guide.read_text(), "per-notebook", guide_table())),
    ]
    for index, entry in enumerate(notebooks()):
        files.append((entry.path, lambda i=index: nbformat.writes(_notebook_with_generated_parts(i)) + "\n"))
    return files


def stale() -> list[str]:
    """Files whose generated parts differ from what the catalog says (relative paths)."""
    problems = []
    for path, expected in _generated_files():
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)} (missing)")
        elif path.read_text() != expected():
            problems.append(str(path.relative_to(ROOT)))
    return problems


def write() -> list[str]:
    """Regenerate every stale part; return the files written."""
    written = []
    for path, expected in _generated_files():
        text = expected()
        if path.read_text() != text:
            path.write_text(text)
            written.append(str(path.relative_to(ROOT)))
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools catalog", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true", help="fail if a generated part is stale")
    group.add_argument("--write", action="store_true", help="regenerate the stale parts")
    args = parser.parse_args(argv)
    if args.write:
        written = write()
        print(f"rewrote {', '.join(written)}" if written else "everything is up to date")
        return 0
    problems = stale()
    for problem in problems:
        print(f"stale: {problem} (run `python -m tools catalog --write`)", file=sys.stderr)
    return 1 if problems else 0
