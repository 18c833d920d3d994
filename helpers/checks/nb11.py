"""Checks for notebook 11 · Debugging and performance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, cast

import aiohttp

from helpers.checks import exercise, expect

SLOW_STEP = 0.1  # seconds: asyncio's default slow_callback_duration; the pricing SDK takes 0.2 s
ORDERS = [(1, "tea"), (2, "coffee"), (3, "cocoa"), (4, "tea")]
_EXECUTING = re.compile(r"^Executing <(?P<what>.*)> took (?P<seconds>\d+(?:\.\d+)?) seconds", re.S)
_CORO = re.compile(r"coro=<(?P<name>[\w.<>]+)\(")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []
        current = asyncio.current_task()
        self.own_task = current.get_name() if current else None  # the check's task: not judged

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.asynccontextmanager
async def _debug_mode(slow: float) -> AsyncIterator[_Capture]:
    """asyncio debug mode on the running loop, its log kept in a list; everything restored after."""
    loop = asyncio.get_running_loop()
    logger = logging.getLogger("asyncio")
    capture = _Capture()
    saved = loop.get_debug(), loop.slow_callback_duration, logger.propagate
    logger.addHandler(capture)
    logger.propagate = False  # the records hold file paths: keep them out of the notebook
    loop.set_debug(True)
    loop.slow_callback_duration = slow
    await asyncio.sleep(0)  # set_debug on a running loop takes effect on its next iteration
    try:
        yield capture
    finally:
        loop.set_debug(saved[0])
        loop.slow_callback_duration = saved[1]
        await asyncio.sleep(0)
        logger.removeHandler(capture)
        logger.propagate = saved[2]


def _slow_steps(log: _Capture) -> list[tuple[str, float]]:
    """(coroutine or callback name, seconds) for every "Executing … took … seconds" record,
    except those of the task running the check itself (it only waits for the learner's task)."""
    steps = []
    for message in log.messages:
        m = _EXECUTING.match(message)
        if m and f"name='{log.own_task}'" not in m["what"]:
            coro = _CORO.search(m["what"])
            steps.append((coro["name"] if coro else m["what"].split("(")[0].split()[-1], float(m["seconds"])))
    return steps


@exercise("invoice without blocking", timeout=30)
async def check_invoice(invoice: Callable[..., Awaitable[list[str]]], pricing: Any) -> str:
    expected = [f"order {order_id}: {item} {pricing.PRICES[item]:.2f}" for order_id, item in ORDERS]
    async with aiohttp.ClientSession() as session:
        async with _debug_mode(SLOW_STEP) as log:
            started = time.perf_counter()
            # A task of its own, so that debug mode reports its steps under the learner's coroutine.
            lines: list[str] = await asyncio.create_task(
                cast("Coroutine[Any, Any, list[str]]", invoice(session, pricing, list(ORDERS))),
                name="invoice-under-check",
            )
            took = time.perf_counter() - started
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
    expect(
        lines == expected, f"returned {lines!r}", f"return one line per order, in order, e.g. {expected[0]!r}"
    )
    return f"{len(lines)} invoice lines right, no step over {SLOW_STEP * 1000:.0f} ms in debug mode, {took:.1f} s in all"


@exercise("drain_then_stop", timeout=30)
async def check_drain_then_stop(drain_then_stop: Callable[..., Awaitable[bool]]) -> str:
    drained, done, workers, took = await _shutdown_scenario(
        drain_then_stop, items=list(range(12)), stuck=None, timeout=2.0
    )
    expect(
        drained is True,
        f"returned {drained!r} although every item could be processed",
        "return True when queue.join() finished before the timeout",
    )
    expect(
        sorted(done) == list(range(12)),
        f"only {len(done)} of 12 items were processed before the workers stopped",
        "wait for the queue to drain (await queue.join(), under a timeout) before cancelling the workers",
    )

    timeout = 0.3
    drained, done, workers, took = await _shutdown_scenario(
        drain_then_stop, items=list(range(6)), stuck=2, timeout=timeout
    )
    expect(
        took < timeout + 1.0,
        f"with one stuck item it took {took:.1f} s to give up (timeout {timeout} s)",
        "bound the wait: `async with asyncio.timeout(timeout): await queue.join()` (or asyncio.wait_for)",
    )
    expect(
        drained is False,
        f"returned {drained!r} although one item never finished",
        "return False when the queue did not drain before the timeout",
    )
    return "drains all 12 items, gives up on a stuck item after the timeout, and leaves no task running"


async def _shutdown_scenario(
    drain_then_stop: Callable[..., Awaitable[bool]], *, items: list[int], stuck: int | None, timeout: float
) -> tuple[Any, list[int], list[asyncio.Task[None]], float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    done: list[int] = []
    never = asyncio.Event()

    async def worker() -> None:
        while True:
            item = await queue.get()
            try:
                await (never.wait() if item == stuck else asyncio.sleep(0.02))
                done.append(item)
            finally:
                queue.task_done()

    for item in items:
        queue.put_nowait(item)
    workers = [asyncio.create_task(worker(), name=f"worker-{i}") for i in range(3)]
    started = time.perf_counter()
    try:
        try:
            async with asyncio.timeout(timeout + 2.0):  # give up on an answer that never returns
                drained = await drain_then_stop(queue, list(workers), timeout)
        except TimeoutError:
            expect(
                False,
                f"drain_then_stop did not return within {timeout + 2.0:.1f} s (timeout {timeout} s)",
                "bound the wait for the queue: `async with asyncio.timeout(timeout): await queue.join()`, "
                "and cancel the workers afterwards whatever happened (`finally:`)",
            )
        took = time.perf_counter() - started
        still_running = [w for w in workers if not w.done()]
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
    return drained, done, workers, took
