"""Wrong answers for notebook 12 · Capstone: a web crawler.

The checks drive the notebook's own crawler (``Fetcher``, ``Crawler``), so this module loads the
definitions of the notebook's code cells (imports, functions, classes and CONSTANTS; not its demos,
not its solution cells) into a module of their own, ``NB``, and the wrong answers build on it the way a
learner's code would.
"""

from __future__ import annotations

import ast
import asyncio
import math
import sys
import time
import types
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

from helpers.checks import nb12

from . import Wrong

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "12_capstone_crawler.ipynb"
KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _notebook_definitions() -> types.ModuleType:
    module = types.ModuleType("nb12_notebook")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type != "code" or "solution" in cell.metadata.get("tags", []):
            continue
        for node in ast.parse(TransformerManager().transform_cell(cell.source)).body:
            names = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            if isinstance(node, KEPT) or (names and all(n.isupper() for n in names)):
                try:
                    exec(compile(ast.Module([node], []), str(NOTEBOOK), "exec"), module.__dict__)
                except NameError:
                    pass  # a constant made from the notebook's running server, such as START
    return module


NB = _notebook_definitions()


# ------------------------------------------------------------------ exercise 1: max_pages


class BudgetOffByOne(NB.Crawler):
    """Compares with `<=`: admits one URL more than the budget."""

    def __init__(self, start: str, fetcher: Any, *, max_pages: int, **options: Any) -> None:
        super().__init__(start, fetcher, **options)
        self.max_pages = max_pages

    def admit(self, url: str, depth: int) -> bool:
        return len(self.depth) <= self.max_pages


class BudgetOfFetchedPages(BudgetOffByOne):
    """Counts the pages fetched so far, not the URLs admitted: a level's links all get in at once."""

    def admit(self, url: str, depth: int) -> bool:
        return len(self.found.pages) < self.max_pages


# ------------------------------------------------------------------ exercise 2: crawl_site


def _origin(start: str) -> str:
    return "{0.scheme}://{0.netloc}".format(urlsplit(start))


async def loose_workers(start: str, fetcher: Any, *, limit: int) -> dict[str, int]:
    """The notebook's common mistake: workers made with create_task next to queue.join(), never
    cancelled: they are still waiting on queue.get() when the crawl returns."""
    start, depth = NB.normalize(start, start), {}
    origin, queue = _origin(start), asyncio.Queue()
    depth[start] = 0
    queue.put_nowait(start)

    async def worker() -> None:
        while True:
            url = await queue.get()
            page = await fetcher.get(url)
            for target, step in NB.leads_to(page):
                if target.startswith(origin + "/") and target not in depth:
                    depth[target] = depth[url] + step
                    queue.put_nowait(target)
            queue.task_done()

    for _ in range(limit):
        asyncio.create_task(worker())  # the mistake
    await queue.join()
    return depth


async def never_ends(start: str, fetcher: Any, *, limit: int) -> dict[str, int]:
    """Waits for workers that wait on queue.get() for ever: nobody tells them the queue is done."""
    start, depth = NB.normalize(start, start), {}
    origin, queue = _origin(start), asyncio.Queue()
    depth[start] = 0
    queue.put_nowait(start)

    async def worker() -> None:
        while True:
            url = await queue.get()
            page = await fetcher.get(url)
            for target, step in NB.leads_to(page):
                if target.startswith(origin + "/") and target not in depth:
                    depth[target] = depth[url] + step
                    queue.put_nowait(target)

    async with asyncio.TaskGroup() as tg:
        for _ in range(limit):
            tg.create_task(worker())
    return depth


def _level_crawler(
    *, seen_when_fetched: bool = False, bounded: bool = True, stop_at_errors: bool = False
) -> Any:
    """A crawl by levels, a task per URL in a TaskGroup, with one of the usual mistakes switched on."""

    async def crawl_site(start: str, fetcher: Any, *, limit: int) -> dict[str, int]:
        start = NB.normalize(start, start)
        origin, depth, slots = _origin(start), {start: 0}, asyncio.Semaphore(limit if bounded else 10_000)
        fetched: set[str] = set()

        async def visit(url: str, d: int, tg: asyncio.TaskGroup, later: list[str]) -> None:
            if seen_when_fetched and url in fetched:
                return
            async with slots:
                page = await fetcher.get(url)
            fetched.add(url)
            if stop_at_errors and not 0 < page.status < 400:
                raise RuntimeError(f"{url} answered {page.status}")
            for target, step in NB.leads_to(page):
                known = target in fetched if seen_when_fetched else depth.get(target, math.inf) <= d + step
                if not target.startswith(origin + "/") or known:
                    continue
                depth[target] = min(depth.get(target, math.inf), d + step)
                if step == 0:
                    tg.create_task(visit(target, d, tg, later))
                else:
                    later.append(target)

        level, d = [start], 0
        while level:
            later: list[str] = []
            async with asyncio.TaskGroup() as tg:
                for url in level:
                    tg.create_task(visit(url, d, tg, later))
            level, d = [u for u in later if depth[u] == d + 1], d + 1
        return depth

    return crawl_site


async def one_queue_no_levels(start: str, fetcher: Any, *, limit: int) -> dict[str, int]:
    """Workers on one queue in a TaskGroup, stopped properly, but without levels: a URL gets the
    depth of the first path that reaches it, which is not always the shortest."""
    start, depth = NB.normalize(start, start), {}
    origin, queue = _origin(start), asyncio.Queue()
    depth[start] = 0
    queue.put_nowait(start)

    async def worker() -> None:
        while True:
            url = await queue.get()
            try:
                page = await fetcher.get(url)
                for target, step in NB.leads_to(page):
                    if target.startswith(origin + "/") and target not in depth:
                        depth[target] = depth[url] + step
                        queue.put_nowait(target)
            finally:
                queue.task_done()

    async with asyncio.TaskGroup() as tg:
        workers = [tg.create_task(worker()) for _ in range(limit)]
        await queue.join()
        for task in workers:
            task.cancel()
    return depth


async def one_at_a_time(start: str, fetcher: Any, *, limit: int) -> dict[str, int]:
    """Level by level, but awaits each fetch before the next: correct, and not concurrent at all."""
    start = NB.normalize(start, start)
    origin, depth, level, d = _origin(start), {start: 0}, [start], 0
    while level:
        later = []
        for url in level:
            page = await fetcher.get(url)
            for target, step in NB.leads_to(page):
                if target.startswith(origin + "/") and depth.get(target, math.inf) > d + step:
                    depth[target] = d + step
                    (level if step == 0 else later).append(target)
        level, d = [u for u in later if depth[u] == d + 1], d + 1
    return depth


async def workers_cancelled_only_at_the_end(start: str, fetcher: Any, *, limit: int) -> dict[str, int]:
    """Level by level with loose workers, cancelled after the last level: when the crawl itself is
    cancelled, nobody cancels them."""
    start = NB.normalize(start, start)
    origin, depth, queue = _origin(start), {start: 0}, asyncio.Queue()
    later: list[str] = []

    async def worker() -> None:
        while True:
            url, d = await queue.get()
            try:
                page = await fetcher.get(url)
                for target, step in NB.leads_to(page):
                    if target.startswith(origin + "/") and depth.get(target, math.inf) > d + step:
                        depth[target] = d + step
                        queue.put_nowait((target, d)) if step == 0 else later.append(target)
            finally:
                queue.task_done()

    workers = [asyncio.create_task(worker()) for _ in range(limit)]
    level, d = [start], 0
    while level:
        for url in level:
            queue.put_nowait((url, d))
        await queue.join()
        level, d, later[:] = [u for u in later if depth[u] == d + 1], d + 1, []
    for task in workers:
        task.cancel()
    return depth


# ------------------------------------------------------------------ exercise 3: polite


class SleepsInEach(NB.Fetcher):
    """The notebook's warning: sleeps `delay` before every request; the waiting workers wake together."""

    def __init__(self, *, delay: float, **options: Any) -> None:
        super().__init__(**options)
        self.delay = delay

    async def before_request(self, host: str) -> None:
        await asyncio.sleep(self.delay)


class BlocksTheLoop(SleepsInEach):
    """Spaces requests with time.sleep under a lock: the gaps are right, and the event loop freezes."""

    def __init__(self, *, delay: float, **options: Any) -> None:
        super().__init__(delay=delay, **options)
        self.turns: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def before_request(self, host: str) -> None:
        async with self.turns[host]:
            time.sleep(self.delay)  # the mistake


class OneLockForAllHosts(SleepsInEach):
    """One lock and one latest start for every host: correct on one host, needlessly slow on two."""

    def __init__(self, *, delay: float, **options: Any) -> None:
        super().__init__(delay=delay, **options)
        self.turn, self.last_start = asyncio.Lock(), -math.inf

    async def before_request(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        async with self.turn:
            wait = self.last_start + self.delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.last_start = loop.time()


class DecidesWithoutALock(SleepsInEach):
    """Remembers the latest start per host but lets every waiter compute its wait at once: they all
    read the same time and wake together."""

    def __init__(self, *, delay: float, **options: Any) -> None:
        super().__init__(delay=delay, **options)
        self.last_start: dict[str, float] = {}

    async def before_request(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        wait = self.last_start.get(host, -math.inf) + self.delay - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self.last_start[host] = loop.time()


WRONG = [
    Wrong("max_pages", "one URL too many (<=)", BudgetOffByOne, r"(?s)one URL too many.*`<`, not `<=`"),
    Wrong("max_pages", "counts fetched pages", BudgetOfFetchedPages, r"not the pages fetched"),
    Wrong(
        "crawl_site",
        "loose workers next to queue.join()",
        loose_workers,
        r"(?s)still running after.*create_task.*TaskGroup",
    ),
    Wrong("crawl_site", "waits on queue.get() for ever", never_ends, r"(?s)did not return.*queue\.get\(\)"),
    Wrong(
        "crawl_site",
        "seen when fetched, not when queued",
        _level_crawler(seen_when_fetched=True),
        r"(?s)more than once.*seen when you schedule it",
    ),
    Wrong(
        "crawl_site", "ignores the limit", _level_crawler(bounded=False), r"(?s)limit is ignored.*Semaphore"
    ),
    Wrong(
        "crawl_site",
        "stops at the first error page",
        _level_crawler(stop_at_errors=True),
        r"(?s)error page.*answer",
    ),
    Wrong("crawl_site", "one queue, no levels", one_queue_no_levels, r"(?s)depth.*level by level"),
    Wrong("crawl_site", "one fetch at a time", one_at_a_time, r"(?s)one after another.*concurrently"),
    Wrong(
        "crawl_site",
        "loose workers outlive a cancelled crawl",
        workers_cancelled_only_at_the_end,
        r"(?s)after the crawl was cancelled.*TaskGroup",
    ),
    Wrong("polite", "sleeps delay in each request", SleepsInEach, r"sleeping `delay` in each request"),
    Wrong(
        "polite",
        "time.sleep freezes the loop",
        BlocksTheLoop,
        r"(?s)froze.*time\.sleep\(\) blocks the event loop",
    ),
    Wrong("polite", "one lock for all hosts", OneLockForAllHosts, r"(?s)as if they were one host.*per host"),
    Wrong("polite", "decides without a lock", DecidesWithoutALock, r"without a lock.*asyncio\.Lock per host"),
]

CHECKS = {
    "max_pages": lambda answer, lab: nb12.check_max_pages(answer, NB.Fetcher, lab.server),
    "crawl_site": lambda answer, lab: nb12.check_crawl_site(answer, NB.Fetcher, lab.server),
    "polite": lambda answer, lab: nb12.check_polite(answer, NB.Crawler, lab.server),
}
