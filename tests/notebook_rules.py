"""What every notebook must look like; shared by the structure and exercise tests.

The list of notebooks, their order, titles and exercises come from the catalog (tools.catalog).
"""

from __future__ import annotations

import re

RAISES = ("NBVAL_RAISES_EXCEPTION",)
# Outputs that betray a leaked resource or a forgotten await; allowed only in cells tagged "demo".
LEAK_TEXTS = ("Unclosed client session", "Unclosed connector", "Task was destroyed", "was never awaited")
MACHINE_PATH = re.compile(r"(/root/|/work/|/tmp/|/home/\w+/|/Users/\w+/)")
MAX_CODE_LINES = 30
# Where "further reading" may point: the official documentation of Python and of the libraries used.
OFFICIAL_DOCS = (
    "docs.python.org",
    "peps.python.org",
    "docs.aiohttp.org",
    "magicstack.github.io",
    "redis.readthedocs.io",
    "redis.io",
    "valkey.io",
    "www.postgresql.org",
    "ipython.readthedocs.io",
    "uvloop.readthedocs.io",
    "tenacity.readthedocs.io",
    "docs.pytest.org",
    "pytest-asyncio.readthedocs.io",
    "anyio.readthedocs.io",
)
PREDICT = "Predict, then run"


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        parts.append("".join(out.get("data", {}).get("text/plain", "")))
        if out.get("output_type") == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(parts)


def solution_and_check_pairs(nb) -> list[tuple[int, int]]:
    """(solution cell index, check cell index) for every exercise; check = the next cell."""
    pairs = []
    for i, cell in enumerate(nb.cells):
        if "solution" in tags(cell):
            pairs.append((i, i + 1))
    return pairs
