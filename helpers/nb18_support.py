"""What notebook 18's service needs outside the notebook: its tables, its source as a module, pytest.

    from helpers import nb18_support
    await nb18_support.create_catalogue(pool, ns)              # an empty schema, then the seeded tables
    source = nb18_support.service_source()                      # the cells marked "# service k/n: ..."
    result = await nb18_support.run_pytest(source, tests)       # pytest in a child process
    print(*result.lines, result.summary, sep="\\n")

The service is written in the notebook, a few cells at a time, and each of those cells starts with a
``# service k/n: what`` comment. pytest runs in a process of its own, which cannot import a
notebook, so :func:`service_source` joins the latest version of each marked cell into the text of a
module (from the cells the kernel ran, or from a notebook file's cells), and :func:`run_pytest`
writes it as ``service.py`` next to the tests in a fresh temporary directory. The same text, loaded
with :func:`load_service`, gives the wrong-answer corpus the notebook's own service.
"""

from __future__ import annotations

import asyncio
import linecache
import re
import sys
import time
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import nb16_support
from helpers.services import Namespace, reset_postgres, reset_redis

__all__ = [
    "ITEMS",
    "STOCK",
    "PytestResult",
    "create_catalogue",
    "expected_reviews",
    "load_service",
    "notebook_cells",
    "reset_keys",
    "run_pytest",
    "service_source",
    "tasks_on",
]

ITEMS = 200  # rows in the catalogue
STOCK = 5  # initial stock of every item
MARK = re.compile(r"^# service (\d+)/(\d+):")

TABLES = """
CREATE TABLE items (
    id int PRIMARY KEY,
    name text NOT NULL,
    price_cents int NOT NULL CHECK (price_cents > 0),
    stock int NOT NULL CHECK (stock >= 0)
);
CREATE TABLE reviews (item_id int NOT NULL REFERENCES items, stars int NOT NULL CHECK (stars BETWEEN 1 AND 5));
CREATE TABLE orders (
    id serial PRIMARY KEY,
    client text NOT NULL CHECK (length(client) BETWEEN 1 AND 20),
    item_id int NOT NULL REFERENCES items,
    quantity int NOT NULL CHECK (quantity > 0)
);
"""


async def create_catalogue(pg: Any, ns: Namespace, *, items: int = ITEMS, stock: int = STOCK) -> None:
    """Drop and re-create ``ns.schema`` with the service's tables, seeded with COPY.

    Item ``i`` is called "item i", costs ``100 + i`` cents, has ``stock`` in stock, and ``i % 4``
    reviews (so some items have none). ``pg`` is an asyncpg connection or pool.
    """
    await reset_postgres(pg, ns)
    schema = ns.schema
    await pg.execute(f'SET search_path TO "{schema}"; {TABLES}; RESET search_path')
    rows = [(i, f"item {i}", 100 + i, stock) for i in range(1, items + 1)]
    reviews = [(i, 1 + (i + k) % 5) for i in range(1, items + 1) for k in range(i % 4)]
    await pg.copy_records_to_table("items", records=rows, schema_name=schema)
    await pg.copy_records_to_table("reviews", records=reviews, schema_name=schema)


async def reset_keys(redis_client: Any, ns: Namespace) -> int:
    """Delete the keys under ``ns.key_prefix`` (and nothing else); return how many."""
    return await reset_redis(redis_client, ns)


def service_source(cells: Iterable[str] | None = None) -> str:
    """The text of a module made of the cells marked ``# service k/n: ...``, in the order of k.

    ``cells`` are cell sources in the order they ran; by default, the cells this IPython kernel has
    run, which IPython keeps in ``linecache`` (that is how its tracebacks show a cell's lines). A cell
    run again with changes replaces its earlier version: the latest one counts. All n parts must be there.
    """
    if cells is None:
        cells = ["".join(entry[2]) for entry in list(linecache.cache.values()) if len(entry) == 4]
    parts: dict[int, str] = {}
    total = 0
    for cell in cells:
        found = MARK.match(cell or "")
        if found:
            parts[int(found.group(1))] = cell
            total = int(found.group(2))
    missing = [k for k in range(1, total + 1) if k not in parts]
    if not parts or missing:
        raise LookupError(f"run every cell marked '# service k/n:' first (missing parts: {missing or 'all'})")
    header = '"""The service of notebook 18, as its cells define it."""\n\n'
    return header + "\n\n".join(parts[k].rstrip() for k in sorted(parts)) + "\n"


def notebook_cells(path: Path) -> list[str]:
    """The sources of a notebook file's code cells."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def load_service(source: str, name: str = "nb18_service") -> types.ModuleType:
    """Execute a service's source as a module (registered in sys.modules, for dataclasses)."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


@dataclass
class PytestResult:
    """What a pytest run reported, reduced to lines that are the same on every machine."""

    returncode: int
    lines: list[str] = field(default_factory=list)  # "test_service.py::test_x PASSED", in order
    summary: str = ""  # e.g. "5 passed"
    output: str = ""  # everything pytest printed, for reading when something failed

    @property
    def passed(self) -> int:
        return sum(line.endswith(" PASSED") for line in self.lines)


INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


async def run_pytest(service: str, tests: str, *, timeout: float = 60) -> PytestResult:
    """Run ``tests`` (the text of test_service.py) against ``service`` (service.py) in a child pytest.

    The child is notebook 16's runner (``helpers.nb16_support.run_pytest``): a fresh temporary folder
    with an ini file of its own, so the repository's pyproject.toml and conftest.py are not read, and
    only pytest-asyncio loaded. Here its outcomes become one line per test, in the order they ran.
    """
    run = await nb16_support.run_pytest(
        {"service.py": service, "test_service.py": tests}, ini=INI, args=["test_service.py"], timeout=timeout
    )
    lines = [f"{test} {outcome.upper()}" for test, outcome in run.outcomes.items()]
    return PytestResult(run.returncode or 0, lines, run.summary, run.output)


async def tasks_on(served: Any, *, settle: float = 0.5) -> list[str]:
    """What is still running on a served app's loop (``helpers.serving``), aiohttp's own connection
    handlers aside: the names of the coroutines, sorted. Waits up to ``settle`` seconds for tasks
    that are about to finish (asyncpg's cancellation of a query, say) before it answers."""

    async def others() -> list[str]:
        here = asyncio.current_task()
        names = (task.get_coro().__qualname__ for task in asyncio.all_tasks() if task is not here)  # type: ignore[union-attr]
        return sorted(name for name in names if not name.startswith("RequestHandler."))

    deadline = time.perf_counter() + settle
    while (left := await served.thread.call(others())) and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    return left


def expected_reviews(item_id: int) -> dict[str, Any]:
    """What the reviews query answers for an item of the seeded catalogue."""
    stars = [1 + (item_id + k) % 5 for k in range(item_id % 4)]
    return {"count": len(stars), "stars": round(sum(stars) / len(stars), 1) if stars else None}
