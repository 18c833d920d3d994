"""Checks for notebook 11 · Debugging and performance."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp

from helpers.checks import being_cancelled, exercise, expect, in_own_task, outcome
from helpers.debugging import AsyncioLog, debug_mode

SLOW_STEP = 0.1  # seconds: asyncio's default slow_callback_duration; the pricing SDK takes 0.2 s
ORDERS = [(1, "tea"), (2, "coffee"), (3, "cocoa"), (4, "tea")]
_EXECUTING = re.compile(r"^Executing <(?P<what>.*)> took (?P<seconds>\d+(?:\.\d+)?) seconds", re.S)
_CORO = re.compile(r"coro=<(?P<name>[\w.<>]+)\(")


def _slow_steps(log: AsyncioLog) -> list[tuple[str, float]]:
    """(coroutine or callback name, seconds) for every "Executing … took … seconds" record,
    except those of the task running the check itself (it only waits for the learner's task)."""
    steps = []
    for message in log.messages:
        m = _EXECUTING.match(message)
        if m and f"name='{log.cell_task}'" not in m["what"]:
            coro = _CORO.search(m["what"])
            steps.append((coro["name"] if coro else m["what"].split("(")[0].split()[-1], float(m["seconds"])))
    return steps


def _watched_pricing(pricing: Any) -> tuple[Any, list[int]]:
    """A copy of the learner's pricing client whose ``quote`` notes the thread it runs in."""
    threads: list[int] = []

    class Watched(type(pricing)):  # type: ignore[misc]
        def quote(self, *args: Any, **kwargs: Any) -> Any:
            threads.append(threading.get_ident())
            return super().quote(*args, **kwargs)

    watched = Watched.__new__(Watched)
    watched.__dict__.update(vars(pricing))
    return watched, threads


@exercise("invoice without blocking", timeout=30)
async def check_invoice(invoice: Callable[..., Awaitable[list[str]]], pricing: Any) -> str:
    expected = [f"order {order_id}: {item} {pricing.PRICES[item]:.2f}" for order_id, item in ORDERS]
    watched, quoted_in = _watched_pricing(pricing)
    async with aiohttp.ClientSession() as session:
        async with debug_mode(SLOW_STEP) as log:
            started = time.perf_counter()
            # A task of its own, so that debug mode reports its steps under the learner's coroutine.
            task = asyncio.create_task(
                cast("Coroutine[Any, Any, list[str]]", invoice(session, watched, list(ORDERS))),
                name="invoice-under-check",
            )
            lines, error = await outcome(task)
            took = time.perf_counter() - started
    if isinstance(error, TypeError) and "not callable" in str(error):
        expect(
            False,
            f"your code raised TypeError: {error}: asyncio.to_thread got what pricing.quote(...) returned, "
            "so the quote had already run, on the loop",
            "pass the function and its arguments separately: `await asyncio.to_thread(pricing.quote, item)`",
        )
    if isinstance(error, TypeError) and "coroutine" in str(error):
        expect(
            False,
            f"your code raised TypeError: {error}: a coroutine reached invoice_line instead of a price",
            "add `await` in front of asyncio.to_thread(...): without it price_of returns the coroutine, unrun",
        )
    slow = _slow_steps(log)
    if slow:
        name, seconds = max(slow, key=lambda step: step[1])
        expect(
            False,
            f"debug mode logged {len(slow)} slow step{'s' * (len(slow) != 1)}; the worst ran "
            f"{seconds * 1000:.0f} ms inside {name}()",
            f"read {name}(): something in it is synchronous and waits (a blocking SDK call); run it in a "
            "thread with `await asyncio.to_thread(...)` so the loop stays free",
        )
    if error is not None:
        raise error
    on_loop = sum(thread == threading.get_ident() for thread in quoted_in)
    expect(
        not on_loop,
        f"pricing.quote ran {on_loop} time(s) on the loop's thread",
        "a blocking SDK call belongs in a thread: `await asyncio.to_thread(pricing.quote, item)`",
    )
    expect(
        len(quoted_in) >= len(ORDERS),
        f"the pricing SDK was asked {len(quoted_in)} time(s) for {len(ORDERS)} orders: the prices did not come from it",
        "keep asking pricing.quote(item) for every order, in a thread; do not copy prices out of PricingClient.PRICES",
    )
    expect(
        lines == expected, f"returned {lines!r}", f"return one line per order, in order, e.g. {expected[0]!r}"
    )
    return f"{len(lines)} invoice lines right, no step over {SLOW_STEP * 1000:.0f} ms in debug mode, {took:.1f} s in all"


@exercise("drain_then_stop", timeout=30)
async def check_drain_then_stop(drain_then_stop: Callable[..., Awaitable[bool]]) -> str:
    run = await _shutdown_scenario(drain_then_stop, items=list(range(12)), stuck=None, timeout=2.0)
    expect(
        not run.left_queued,
        f"drain_then_stop returned with {run.left_queued} items still queued: the workers were stopped "
        "before the queue drained",
        "drain first: wait for the queue (`await queue.join()`, under a timeout), and only then cancel the workers",
    )
    expect(
        not run.cancelled_busy,
        f"the workers were cancelled while {run.cancelled_busy} item(s) were still being processed, "
        "although the queue was empty",
        "an empty queue is not a drained one: queue.empty() is true once the last item is taken, "
        "queue.join() returns once it is done (task_done)",
    )
    expect(
        run.drained is True,
        f"returned {run.drained!r} although every item could be processed",
        "return True when queue.join() finished before the timeout",
    )
    expect(
        sorted(run.done) == list(range(12)),
        f"only {len(run.done)} of 12 items were processed before the workers stopped",
        "wait for the queue to drain (await queue.join(), under a timeout) before cancelling the workers",
    )
    expect(
        run.returned - run.emptied < 1.0,
        f"the queue was done after {run.emptied - run.started:.1f} s, but drain_then_stop returned only "
        f"after {run.returned - run.started:.1f} s (timeout 2.0 s)",
        "return as soon as the queue has drained: wait on `queue.join()` under `asyncio.timeout(timeout)`, "
        "do not sleep for the whole timeout",
    )

    timeout = 0.3
    run = await _shutdown_scenario(drain_then_stop, items=list(range(6)), stuck=2, timeout=timeout)
    took = run.returned - run.started
    expect(
        took < timeout + 1.0,
        f"with one stuck item it took {took:.1f} s to give up (timeout {timeout} s)",
        "bound the wait: `async with asyncio.timeout(timeout): await queue.join()` (or asyncio.wait_for)",
    )
    expect(
        run.drained is False,
        f"returned {run.drained!r} although one item never finished",
        "return False when the queue did not drain before the timeout",
    )
    return "drains all 12 items, gives up on a stuck item after the timeout, and leaves no task running"


SLOW_LAST = 0.3  # seconds: the last item takes this long, so the queue is empty well before it is done


@dataclass
class _Run:
    drained: Any = None
    done: list[int] = field(default_factory=list)
    started: float = 0.0
    emptied: float = float("inf")  # when the last item was done
    returned: float = float("inf")
    left_queued: int = 0  # items still in the queue when drain_then_stop returned
    cancelled_busy: int = 0  # items being processed when their worker was cancelled


async def _shutdown_scenario(
    drain_then_stop: Callable[..., Awaitable[bool]], *, items: list[int], stuck: int | None, timeout: float
) -> _Run:
    queue: asyncio.Queue[int] = asyncio.Queue()
    run = _Run()
    never = asyncio.Event()

    async def worker() -> None:
        while True:
            item = await queue.get()
            try:
                if item == stuck:
                    await never.wait()
                else:
                    await asyncio.sleep(SLOW_LAST if item == items[-1] else 0.02)
                run.done.append(item)
                if len(run.done) == len(items):
                    run.emptied = time.perf_counter()
            except asyncio.CancelledError:
                if stuck is None:  # every item could have been done: the worker was stopped too soon
                    run.cancelled_busy += 1
                raise
            finally:
                queue.task_done()

    async def call() -> tuple[Any, float, int, list[asyncio.Task[None]]]:
        drained = await drain_then_stop(queue, list(workers), timeout)
        # Judged the moment it returns: a worker still cancelling then is one it did not wait for.
        return drained, time.perf_counter(), queue.qsize(), [w for w in workers if not w.done()]

    for item in items:
        queue.put_nowait(item)
    workers = [asyncio.create_task(worker(), name=f"worker-{i}") for i in range(3)]
    run.started = time.perf_counter()
    try:
        try:
            async with asyncio.timeout(timeout + 2.0):  # give up on an answer that never returns
                run.drained, run.returned, run.left_queued, still_running = await in_own_task(call())
        except TimeoutError:
            expect(
                False,
                f"drain_then_stop did not return within {timeout + 2.0:.1f} s (timeout {timeout} s)",
                "bound the wait for the queue: `async with asyncio.timeout(timeout): await queue.join()`, "
                "and cancel the workers afterwards whatever happened (`finally:`)",
            )
        except asyncio.CancelledError:
            if being_cancelled():
                raise  # the check itself is being cancelled
            expect(
                False,
                "drain_then_stop raised CancelledError: awaiting the cancelled workers passed their "
                "cancellation on to you",
                "await them with `asyncio.gather(*workers, return_exceptions=True)`, which collects the "
                "CancelledErrors instead of raising the first one",
            )
    finally:  # whatever the learner did, no worker outlives the check
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    expect(
        not still_running,
        f"{len(still_running)} workers were still running after drain_then_stop returned",
        "cancel every worker (also when the timeout expires: use `finally:`), then await them so they have "
        "really finished: asyncio.gather(*workers, return_exceptions=True)",
    )
    return run
