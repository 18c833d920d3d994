"""Checks for notebook 17 · Why is it stuck? Introspection and hangs.

    from helpers.checks import nb17
    await nb17.check_find_deadlock(find_deadlock)
    await nb17.check_watchdog(watchdog)

Each check builds real stuck programs — tasks parked on ``OwnedLock``s, an ``Event``, a ``Queue``, a
bare ``Future`` — with new task names on every run, so that only code that reads the tasks can pass.
Every task a scenario starts is cancelled and awaited before the check returns, and whatever the
learner's code left running is stopped too.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Collection, Coroutine
from typing import Any

from helpers.checks import being_cancelled, exercise, expect, in_own_task, stop_stray_tasks, tasks_alive_since
from helpers.nb17_support import OwnedLock

__all__ = ["check_find_deadlock", "check_watchdog"]

WORDS = ["payroll", "audit", "export", "billing", "sync", "report", "ingest", "backup", "refund", "invoice"]


def _names(rng: random.Random, count: int) -> list[str]:
    return [f"{word}-{rng.randrange(10, 100)}" for word in rng.sample(WORDS, count)]


# ------------------------------------------------------------------ the stuck programs


async def _take(lock: asyncio.Lock) -> None:
    async with lock:
        pass


async def _hold_then_take(first: asyncio.Lock, second: asyncio.Lock) -> None:
    async with first:
        await asyncio.sleep(0.01)  # every other task takes its first lock meanwhile
        async with second:
            pass


async def _hold_then_take_nested(first: asyncio.Lock, second: asyncio.Lock) -> None:
    async with first:
        await asyncio.sleep(0.01)
        await _take(second)  # the wait for the second lock is one coroutine deeper


async def _hold_then_wait(lock: asyncio.Lock, event: asyncio.Event) -> None:
    async with lock:
        await event.wait()


async def _await(future: asyncio.Future[Any]) -> Any:
    return await future


class _Scene:
    """The tasks of one stuck program; ``stop()`` cancels and awaits them all."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []

    def start(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self.tasks.append(task)
        return task

    def decoys(self, rng: random.Random) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        never = asyncio.get_running_loop().create_future()
        coros: list[Coroutine[Any, Any, Any]] = [
            asyncio.Event().wait(),
            queue.get(),
            _await(never),
            asyncio.sleep(60),
        ]
        for name, coro in zip(
            _names(rng, 4),
            coros,
            strict=True,
        ):
            self.start(f"idle-{name}", coro)

    async def settle(self, rng: random.Random) -> list[asyncio.Task[Any]]:
        finished = self.start(f"finished-{_names(rng, 1)[0]}", asyncio.sleep(0))
        await asyncio.sleep(0.1)  # every task runs until it is parked at an await (or done)
        assert finished.done()
        shuffled = list(self.tasks)
        rng.shuffle(shuffled)
        return shuffled

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _normalised(found: Any) -> list[str] | None:
    """The cycle as a list of names starting at the smallest, without a repeated closing name."""
    if found is None:
        return None
    names = list(found)
    if len(names) > 1 and names[0] == names[-1]:
        names = names[:-1]
    if not names:
        return []
    start = names.index(min(names))
    return names[start:] + names[:start]


def _call(
    find_deadlock: Callable[[Collection[asyncio.Task[Any]]], Any], tasks: list[asyncio.Task[Any]]
) -> Any:
    found = find_deadlock(tasks)
    if found is not None:
        items = list(found) if isinstance(found, (list, tuple)) else None
        expect(
            items is not None and all(isinstance(item, str) for item in items),
            f"returned {found!r}",
            "return a list of task names (task.get_name()), or None when there is no cycle",
        )
    return found


BYSTANDER_HINT = (
    "the bystander waits for a lock held by a member of the cycle: it is stuck, but not in the cycle. Follow the "
    "edges waiter → holder until you reach a task already on the path, and return only the part that repeats"
)


@exercise("find_deadlock", timeout=30)
async def check_find_deadlock(find_deadlock: Callable[[Collection[asyncio.Task[Any]]], Any]) -> str:
    rng = random.Random()
    await in_own_task(_two_task_cycle(find_deadlock, rng))
    await in_own_task(_three_task_cycle(find_deadlock, rng))
    await in_own_task(_chain_without_cycle(find_deadlock, rng))
    return "finds two- and three-task cycles in waits-for order, skips bystanders, None for a mere chain"


async def _two_task_cycle(find_deadlock: Callable[..., Any], rng: random.Random) -> None:
    scene = _Scene()
    try:
        first, second, bystander = _names(rng, 3)
        a, b = OwnedLock("a"), OwnedLock("b")
        scene.start(first, _hold_then_take(a, b))
        scene.start(second, _hold_then_take_nested(b, a))  # waits for `a` inside _take()
        scene.start(bystander, _take(b))
        scene.decoys(rng)
        found = _normalised(_call(find_deadlock, await scene.settle(rng)))
    finally:
        await scene.stop()
    expect(
        found is not None,
        f"returned None for a deadlock: {first} holds 'a' and waits for 'b', {second} holds 'b' and waits for "
        "'a' (from inside a nested coroutine)",
        "for each task, waiting_on(task) follows cr_await down to Lock.acquire and returns the lock; the task "
        "waits for lock.owner. Build those edges, then look for a cycle",
    )
    expect(
        bystander not in (found or []),
        f"returned {found!r}, which includes the bystander {bystander}",
        BYSTANDER_HINT,
    )
    expect(
        found == sorted([first, second]),
        f"returned {found!r}; the cycle is {first} ⇄ {second}",
        "return the names of the tasks on the cycle only: each waits for a lock held by the next",
    )


async def _three_task_cycle(find_deadlock: Callable[..., Any], rng: random.Random) -> None:
    scene = _Scene()
    try:
        names = _names(rng, 4)
        first, second, third, bystander = names
        a, b, c = OwnedLock("a"), OwnedLock("b"), OwnedLock("c")
        scene.start(first, _hold_then_take(a, b))  # first waits for second (holder of b)
        scene.start(second, _hold_then_take_nested(b, c))  # second waits for third
        scene.start(third, _hold_then_take(c, a))  # third waits for first
        scene.start(bystander, _take(c))
        scene.decoys(rng)
        found = _normalised(_call(find_deadlock, await scene.settle(rng)))
    finally:
        await scene.stop()
    expected = _normalised([first, second, third])
    expect(
        found is not None,
        f"returned None for a three-task deadlock: {first} → {second} → {third} → {first}",
        "a cycle can be longer than two tasks: follow the edges waiter → holder from task to task until you "
        "come back to a task already on the path",
    )
    expect(
        bystander not in (found or []),
        f"returned {found!r}, which includes the bystander {bystander}",
        BYSTANDER_HINT,
    )
    expect(
        found == expected or sorted(found or []) != sorted(expected or []),
        f"returned {found!r}: the right tasks in the wrong order ({first} waits for {second}, {second} for "
        f"{third}, {third} for {first})",
        "return the names in waits-for order: each waits for a lock held by the next. Did you follow the edges "
        "backwards, from the holder to its waiters?",
    )
    expect(
        found == expected,
        f"returned {found!r}; the cycle is {first} → {second} → {third} → {first}",
        "return exactly the tasks on the cycle, each waiting for a lock held by the next",
    )


async def _chain_without_cycle(find_deadlock: Callable[..., Any], rng: random.Random) -> None:
    scene = _Scene()
    try:
        waiter, holder, second_waiter = _names(rng, 3)
        a, b, gate = OwnedLock("a"), OwnedLock("b"), asyncio.Event()
        scene.start(waiter, _hold_then_take(a, b))  # waits for `holder`
        scene.start(holder, _hold_then_wait(b, gate))  # holds b, waits on an Event: no cycle
        scene.start(second_waiter, _take(a))  # waits for `waiter`
        scene.decoys(rng)
        found = _call(find_deadlock, await scene.settle(rng))
    finally:
        await scene.stop()
    expect(
        found is None,
        f"returned {found!r} for a chain with no cycle: {second_waiter} waits for {waiter}, who waits for "
        f"{holder}, who waits on an Event",
        "a chain of waits that ends at a task waiting on something else is no deadlock: report a cycle only when "
        "the edges lead back to a task already on the path, and return None otherwise",
    )


# ------------------------------------------------------------------ watchdog

Watchdog = Callable[[float, Callable[[str], Any]], contextlib.AbstractAsyncContextManager[Any]]
SECONDS = 0.2
STALL = 4 * SECONDS  # the stalled body is released this long after it starts


class _Boom(Exception):
    pass


class _Reports:
    """on_stall's calls: (seconds since the block began, the dump)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.calls: list[tuple[float, Any]] = []

    def __call__(self, dump: Any) -> None:
        self.calls.append((time.perf_counter() - self.started, dump))


STOP_HINT = (
    "stop the watcher when the body ends: in a `finally` around the `yield`, watcher.cancel() and then await it "
    "(suppressing its CancelledError), so it can neither report later nor outlive the block"
)


@exercise("watchdog", timeout=30)
async def check_watchdog(watchdog: Watchdog) -> str:
    before = asyncio.all_tasks()
    try:
        await in_own_task(_quick_body(watchdog))
        await in_own_task(_raising_body(watchdog))
        await in_own_task(_stalled_body(watchdog, random.Random()))
    finally:
        await stop_stray_tasks(before)
    return (
        "one report while the body is stuck, naming where it waits; the body is never cancelled; nothing left"
    )


async def _quick_body(watchdog: Watchdog) -> None:
    before = asyncio.all_tasks()
    reports = _Reports()
    async with asyncio.timeout(5), watchdog(SECONDS, reports):
        await asyncio.sleep(0.05)
    left = tasks_alive_since(before)
    await asyncio.sleep(2 * SECONDS)  # a watcher still running would report now
    expect(
        not left,
        f"a body that took 0.05 s ended, and {len(left)} task(s) the watchdog started were still running",
        STOP_HINT,
    )
    late = [f"{when:.2f} s" for when, _ in reports.calls]
    expect(
        not late,
        f"on_stall was called at {late} for a body that finished in 0.05 s (watchdog at {SECONDS} s)",
        STOP_HINT,
    )


async def _raising_body(watchdog: Watchdog) -> None:
    before = asyncio.all_tasks()
    reports = _Reports()
    raised: BaseException | None = None
    try:
        async with asyncio.timeout(5), watchdog(SECONDS, reports):
            await asyncio.sleep(0.01)
            raise _Boom("the body failed")
    except _Boom as exc:
        raised = exc
    left = tasks_alive_since(before)
    expect(
        raised is not None,
        "the body raised an exception, and it did not come out of the `async with watchdog(...)` block",
        "let the body's exception propagate: do not catch it around the `yield` (a try/finally is enough)",
    )
    expect(not left, "the body raised, and the watchdog's task was still running afterwards", STOP_HINT)
    await asyncio.sleep(2 * SECONDS)
    expect(not reports.calls, "on_stall was called after the body had already failed", STOP_HINT)


async def _wait_for_release(released: asyncio.Event) -> None:
    await _fetch_config(released)


async def _fetch_config(released: asyncio.Event) -> None:
    await released.wait()  # one coroutine below the task's own: get_stack() does not show it


async def _stalled_body(watchdog: Watchdog, rng: random.Random) -> None:
    before = asyncio.all_tasks()
    released = asyncio.Event()
    name = f"stuck-{_names(rng, 1)[0]}"
    reports = _Reports()
    release = asyncio.get_running_loop().call_later(STALL, released.set)
    completed = False
    failure: BaseException | None = None
    try:
        async with asyncio.timeout(5 * STALL), watchdog(SECONDS, reports):
            await asyncio.create_task(_wait_for_release(released), name=name)
            completed = True
    except (TimeoutError, asyncio.CancelledError) as exc:
        if isinstance(exc, asyncio.CancelledError) and being_cancelled():
            raise
        failure = exc
    finally:
        release.cancel()
    ended = time.perf_counter() - reports.started
    left = tasks_alive_since(before)
    expect(
        completed,
        f"the stalled body did not run to its end: {type(failure).__name__ if failure else 'it was cut short'} "
        f"after {ended:.2f} s",
        "a watchdog reports, it does not cancel: no asyncio.timeout or wait_for around the `yield` — start a "
        "separate watcher task that calls on_stall and let the body run on",
    )
    expect(
        reports.calls,
        f"the body was stuck for {ended:.2f} s and on_stall was never called (watchdog at {SECONDS} s)",
        "start a watcher task on entry that sleeps `seconds` and then calls on_stall(dump_tasks(...))",
    )
    when, dump = reports.calls[0]
    expect(
        when < 0.75 * STALL,
        f"on_stall was called {when:.2f} s after the block began, when the body had already ended "
        f"({ended:.2f} s); the watchdog was set to {SECONDS} s",
        "report while the body is still stuck — by the end, the stuck task is gone from the dump: a watcher task "
        "that sleeps `seconds` and then calls on_stall",
    )
    expect(
        when > 0.6 * SECONDS,
        f"on_stall was called {when:.2f} s after the block began, before the {SECONDS} s were up",
        "wait `seconds` before reporting (asyncio.sleep(seconds) in the watcher)",
    )
    expect(
        len(reports.calls) == 1, f"on_stall was called {len(reports.calls)} times", "report once per block"
    )
    text = dump if isinstance(dump, str) else str(dump)
    expect(
        name in text,
        f"the dump does not mention the stuck task {name!r}: {text[:200]!r}",
        "dump the tasks started since the block was entered: asyncio.all_tasks() minus a snapshot taken on entry",
    )
    expect(
        "Event.wait" in text,
        f"the dump names {name!r} but not what it waits in: {text[:200]!r}",
        "get_stack() and print_stack() show only the task's outermost coroutine: use dump_tasks, which follows "
        "cr_await down to Event.wait",
    )
    expect(not left, "the body ended, and the watchdog's task was still running", STOP_HINT)
