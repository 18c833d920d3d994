"""Wrong answers for notebook 17 · Why is it stuck? Introspection and hangs."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import time

from helpers.checks import nb17
from helpers.nb17_support import OwnedLock

from . import Wrong

# ------------------------------------------------------------------ the notebook's own pieces
# Copied from the notebook, because a learner's answer calls them as the notebook defines them.

PRIMITIVES = (asyncio.Lock, asyncio.Event, asyncio.Condition, asyncio.Semaphore, asyncio.Queue)
STDLIB = os.path.dirname(asyncio.__file__)


def coroutine_chain(task):
    chain, coro = [], task.get_coro()
    while inspect.iscoroutine(coro) and coro.cr_frame is not None:
        chain.append(coro)
        coro = coro.cr_await
    return chain


def waiting_on(task):
    chain = [] if task.done() else coroutine_chain(task)
    if not chain:
        return None
    target = chain[-1].cr_frame.f_locals.get("self")
    return target if isinstance(target, PRIMITIVES) else chain[-1]


def where(coro):
    code = coro.cr_code
    inside_asyncio = os.path.dirname(code.co_filename) == STDLIB
    return code.co_qualname + ("" if inside_asyncio else f":{coro.cr_frame.f_lineno}")


def describe(target):
    if isinstance(target, OwnedLock):
        return repr(target)
    if isinstance(target, PRIMITIVES):
        return type(target).__name__
    return f"a Future, awaited in {target.cr_code.co_qualname}()"


def dump_tasks(tasks):
    lines = []
    for task in sorted(tasks, key=lambda t: t.get_name()):
        if task.done():
            lines.append(f"{task.get_name()}: done")
            continue
        chain = " → ".join(where(coro) for coro in coroutine_chain(task))
        lines.append(f"{task.get_name()}: {chain} ⇒ waits on {describe(waiting_on(task))}")
    return "\n".join(lines)


def holders(tasks):
    """{waiter: holder} for every task waiting on an OwnedLock (the right edges)."""
    edges = {}
    for task in tasks:
        target = waiting_on(task)
        if isinstance(target, OwnedLock) and target.owner is not None:
            edges[task] = target.owner
    return edges


# ------------------------------------------------------------------ find_deadlock


def every_lock_waiter(tasks):
    """Every task blocked on a lock is "in the deadlock": the bystander is reported too."""
    stuck = sorted(task.get_name() for task in holders(tasks))
    return stuck if len(stuck) >= 2 else None


def two_task_cycles_only(tasks):
    """Looks for A waits for B and B waits for A, and nothing longer."""
    edges = holders(tasks)
    for waiter, holder in edges.items():
        if edges.get(holder) is waiter:
            return [waiter.get_name(), holder.get_name()]
    return None


def edges_backwards(tasks):
    """Follows the edges from each holder to its waiters: finds the cycle, in reverse order."""
    waiters_of = {}
    for waiter, holder in holders(tasks).items():
        waiters_of.setdefault(holder, []).append(waiter)

    def search(path):
        for nxt in waiters_of.get(path[-1], []):
            if nxt in path:
                return path[path.index(nxt) :]
            found = search([*path, nxt])
            if found:
                return found
        return None

    for start in waiters_of:
        if cycle := search([start]):
            return [task.get_name() for task in cycle]
    return None


def chain_counts_as_deadlock(tasks):
    """Finds real cycles, but with no cycle reports the longest chain of waits instead of None."""
    edges = holders(tasks)
    longest = []
    for start in edges:
        path = [start]
        while (nxt := edges.get(path[-1])) is not None and nxt not in path:
            path.append(nxt)
        if nxt is not None:
            return [task.get_name() for task in path[path.index(nxt) :]]
        longest = max(longest, path, key=len)
    return [task.get_name() for task in longest] or None


# ------------------------------------------------------------------ watchdog


@contextlib.asynccontextmanager
async def dumps_at_exit(seconds, on_stall):
    """Measures the body and reports afterwards: by then the stuck task is gone."""
    before, started = asyncio.all_tasks(), time.perf_counter()
    try:
        yield
    finally:
        if time.perf_counter() - started > seconds:
            on_stall(dump_tasks(asyncio.all_tasks() - before))


@contextlib.asynccontextmanager
async def never_stops_the_watcher(seconds, on_stall):
    """Starts the watcher, and leaves it running when the body ends."""
    before = asyncio.all_tasks()

    async def bark():
        await asyncio.sleep(seconds)
        on_stall(dump_tasks(asyncio.all_tasks() - before - {asyncio.current_task()}))

    asyncio.create_task(bark())
    yield


@contextlib.asynccontextmanager
async def cancels_the_body(seconds, on_stall):
    """A timeout that dumps: it cancels the body it was meant to watch."""
    before = asyncio.all_tasks()
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        on_stall(dump_tasks(asyncio.all_tasks() - before))


def stack_dump(tasks):
    return "\n".join(f"{t.get_name()}: {[f.f_code.co_name for f in t.get_stack()]}" for t in tasks)


@contextlib.asynccontextmanager
async def dumps_get_stack(seconds, on_stall):
    """Right watcher, but the dump uses get_stack(): only each task's outermost coroutine."""
    before = asyncio.all_tasks()

    async def bark():
        await asyncio.sleep(seconds)
        on_stall(stack_dump(asyncio.all_tasks() - before - {asyncio.current_task()}))

    watcher = asyncio.create_task(bark())
    try:
        yield
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


WRONG = [
    Wrong("find_deadlock", "bystander counted in the cycle", every_lock_waiter, r"bystander"),
    Wrong("find_deadlock", "only two-task cycles", two_task_cycles_only, r"longer than two"),
    Wrong("find_deadlock", "edges followed backwards", edges_backwards, r"backwards"),
    Wrong("find_deadlock", "a chain reported as a deadlock", chain_counts_as_deadlock, r"no deadlock"),
    Wrong("watchdog", "dumps when the body ends", dumps_at_exit, r"still stuck"),
    Wrong("watchdog", "watcher never stopped", never_stops_the_watcher, r"stop the watcher"),
    Wrong("watchdog", "cancels the body", cancels_the_body, r"does not cancel"),
    Wrong("watchdog", "dump from get_stack()", dumps_get_stack, r"outermost coroutine"),
]

CHECKS = {
    "find_deadlock": lambda answer, lab: nb17.check_find_deadlock(answer),
    "watchdog": lambda answer, lab: nb17.check_watchdog(answer),
}
