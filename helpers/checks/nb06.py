"""Checks for notebook 06 · Flow control.

    from helpers.checks import nb06
    await nb06.check_map_async(map_async)
    await nb06.check_sliding_window(SlidingWindow, server)   # server = helpers.labserver.start()

``check_map_async`` drives the learner's pool with a coroutine function of its own that counts how many
of its calls overlap and how many tasks exist while it runs, so it needs no server.
``check_sliding_window`` sends requests through the learner's limiter to a path unique to this run and
judges the limiter by the start times the *server* recorded, not by the limiter's own bookkeeping.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aiohttp

from helpers.checks import exercise, expect, leaf_exceptions, raise_if_stub, stop_stray_tasks
from helpers.checks.scenarios import InFlight

__all__ = ["check_map_async", "check_sliding_window"]


# ------------------------------------------------------------------ shared pieces


# ------------------------------------------------------------------ map_async


class _Probe:
    """A coroutine function that doubles its argument and watches how it is being called."""

    def __init__(
        self,
        pauses: list[float],
        before: set[asyncio.Task[Any]],
        fail_on: int | None = None,
        slow: tuple[int, int] | None = None,
    ) -> None:
        self.pauses, self.before, self.fail_on = pauses, before, fail_on
        self.in_flight, self.peak_tasks, self.calls, self.finished = InFlight(), 0, 0, 0
        # `slow = (item, n)`: the call for `item` lasts until n other calls have finished (or 1 s).
        # A pool keeps its other slots busy meanwhile; batches of `limit` wait for it instead.
        self.slow, self.others_done = slow, asyncio.Event()
        self.slow_was_starved = False

    async def __call__(self, x: int) -> int:
        self.calls += 1
        with self.in_flight:
            self.peak_tasks = max(self.peak_tasks, len(asyncio.all_tasks() - self.before))
            if x == self.fail_on:
                raise _Broken(f"item {x} is broken")
            if self.slow is not None and x == self.slow[0]:
                try:
                    async with asyncio.timeout(1.0):
                        await self.others_done.wait()
                except TimeoutError:
                    self.slow_was_starved = True
            else:
                await asyncio.sleep(self.pauses[x % len(self.pauses)])
                self.finished += 1
                if self.slow is not None and self.finished >= self.slow[1]:
                    self.others_done.set()
            return 2 * x


class _Broken(ValueError):
    """The error the check's function raises on purpose."""


@exercise("map_async", timeout=20)
async def check_map_async(
    map_async: Callable[[Callable[[Any], Awaitable[Any]], Iterable[Any], int], Awaitable[list[Any]]],
) -> str:
    limit, items = 7, list(range(200))
    rng = random.Random(6)
    pauses = [rng.uniform(0.0005, 0.003) for _ in items]  # uneven, so completion order != input order

    before = asyncio.all_tasks()
    probe = _Probe(pauses, before, slow=(0, 3 * limit))
    try:
        result = await map_async(probe, items, limit)
    except Exception as exc:  # the stub, or a learner error reported by @exercise
        raise_if_stub(exc)
        raise
    stray = await stop_stray_tasks(before)

    expect(result is not None, "map_async returned None", "return the list of results")
    result = list(result)
    expect(
        len(result) == len(items),
        f"got {len(result)} results for {len(items)} items",
        "call fn once per item and keep every result",
    )
    expect(
        sorted(result, key=repr) == sorted((2 * x for x in items), key=repr),
        "the results are not the values fn returned",
        "collect `await fn(item)` for each item",
    )
    expect(
        result == [2 * x for x in items],
        "the results are not in input order",
        "store each result at its item's index (enumerate the items) instead of appending as calls finish",
    )
    expect(
        probe.in_flight.peak <= limit,
        f"up to {probe.in_flight.peak} calls of fn ran at once; the limit was {limit}",
        "start exactly `limit` workers, or guard each call with asyncio.Semaphore(limit)",
    )
    expect(
        probe.in_flight.peak == limit,
        f"at most {probe.in_flight.peak} calls ran at once, although {limit} were allowed",
        "start `limit` workers (or allow `limit` calls) so the work is spread over all of them",
    )
    expect(
        not probe.slow_was_starved,
        f"while one slow call of fn ran, fewer than {3 * limit} other calls finished in 1 s",
        f"you seem to run the items in batches of {limit}: a batch waits for its slowest call while the "
        "other slots sit idle; let each worker take the next item as soon as it is free",
    )
    expect(
        probe.peak_tasks <= 2 * limit + 2,
        f"{probe.peak_tasks} tasks were alive at once for {len(items)} items",
        "do not create one task per item (gather over all items does): start `limit` workers that take items one by one",
    )
    expect(
        not stray,
        f"{len(stray)} task(s) were still running after map_async returned",
        "stop your workers before returning: cancel and await them, send sentinels, or use asyncio.TaskGroup",
    )

    empty = await map_async(probe, [], limit)
    expect(
        empty is not None and list(empty) == [],
        f"map_async(fn, [], {limit}) returned {empty!r}",
        "an empty input gives []",
    )

    # An error from fn must reach the caller, stop the pool, and leave nothing behind.
    before = asyncio.all_tasks()
    failing = _Probe(pauses, before, fail_on=5)
    raised: BaseException | None = None
    try:
        async with asyncio.timeout(3) as deadline:
            await map_async(failing, list(range(60)), 4)
    except TimeoutError:
        if not deadline.expired():
            raise
    except Exception as exc:  # noqa: BLE001 - inspected below
        raised = exc
    stray = await stop_stray_tasks(before)
    expect(
        not deadline.expired(),
        "when fn raised, map_async never returned",
        "a worker died and something waits for it forever (queue.join() or a full queue.put()): "
        "run the workers in an asyncio.TaskGroup so one failure cancels the rest",
    )
    expect(
        raised is not None and any(isinstance(e, _Broken) for e in leaf_exceptions(raised)),
        "fn raised ValueError on item 5, but map_async "
        + ("returned normally" if raised is None else f"raised {type(raised).__name__}"),
        "let the error propagate: do not catch it, and do not gather the workers with return_exceptions=True",
    )
    expect(
        failing.calls < 5 + 2 * 4 + 2,
        f"fn was still called {failing.calls} times for 60 items after item 5 failed",
        "when one call fails, stop the other workers (asyncio.TaskGroup cancels them for you)",
    )
    expect(
        not stray,
        f"{len(stray)} task(s) were still running after map_async raised",
        "cancel and await the other workers before the error leaves map_async (asyncio.TaskGroup does this)",
    )
    return f"input order kept, {limit} calls at once from about {limit} tasks, errors propagate, nothing left pending"


# ------------------------------------------------------------------ SlidingWindow


def _busiest(starts: list[float], window: float) -> int:
    """The most start times within any half-open ``window``-second interval."""
    starts = sorted(starts)
    return max((bisect.bisect_left(starts, s + window) - i for i, s in enumerate(starts)), default=0)


def _ideal_starts(arrivals: list[float], limit: int, period: float) -> list[float]:
    """When a perfect sliding window lets each caller through, first come first served."""
    starts: list[float] = []
    for i, arrived in enumerate(arrivals):
        starts.append(max(arrived, starts[i - limit] + period) if i >= limit else arrived)
    return starts


async def _returns(window_class: Callable[[int, float], Any], arrivals: list[float]) -> list[float]:
    """Seconds after the start at which each ``acquire()`` returned, callers arriving at ``arrivals``."""
    window, started = window_class(_PROBE_LIMIT, _PROBE_PERIOD), time.perf_counter()
    returned: list[float] = []

    async def caller(at: float) -> None:
        await asyncio.sleep(at)
        await window.acquire()
        returned.append(time.perf_counter() - started)

    before = asyncio.all_tasks()
    try:
        async with asyncio.timeout(8 * _PROBE_PERIOD):  # a correct window needs 2 periods
            await asyncio.gather(*(caller(at) for at in arrivals))
    except Exception:  # noqa: BLE001 - a diagnosis only: what returned so far is enough
        pass
    await stop_stray_tasks(before)
    return sorted(returned)


_PROBE_LIMIT, _PROBE_PERIOD = 3, 0.2


async def _diagnose(window_class: Callable[[int, float], Any], limit: int, period: float) -> str:
    """Name the usual mistake behind a window that let too many through, from two small replays."""
    L, P = _PROBE_LIMIT, _PROBE_PERIOD
    generic = (
        f"keep the start times of the last {limit} acquisitions, and wait until the oldest is {period} s old"
    )
    burst = await _returns(window_class, [0.0] * (3 * L))  # 9 callers at once
    if len(burst) > L and burst[L] < 0.1 * P:
        return f"more than `limit` callers got through at once (off by one?): {generic}; wait when len(starts) == limit"
    if len(burst) > L and burst[L] < 0.75 * P:
        return (
            f"callers got through before the oldest start was {period} s old: {generic} "
            "(a token bucket lets a burst *plus* its refill through)"
        )
    if _busiest(burst, 0.8 * P) > L:
        return (
            f"several waiters were let through together: {generic}, holding the lock while you wait, "
            "and read the clock after the wait (a time taken before sleeping is stale)"
        )
    late = await _returns(window_class, [0.0] + [0.6 * P] * (2 * L))  # one early, then a crowd
    if _busiest(late, 0.8 * P) > L:
        return (
            f"a counter reset every period lets {limit} through at the end of one window and {limit} more at "
            f"the start of the next: {generic}"
        )
    return generic


async def _drain(session: aiohttp.ClientSession, url: str) -> None:
    async with session.get(url) as resp:
        await resp.read()


@exercise("SlidingWindow", timeout=30)
async def check_sliding_window(window_class: Callable[[int, float], Any], server: Any) -> str:
    limit, period, n = 5, 0.5, 21
    # Callers arrive one every period / (2 * limit) seconds, twice the allowed rate, so the limiter
    # is sometimes idle, sometimes full, and a window is often only partly used: a counter reset
    # every period lets `limit` more through right after a window that filled up late.
    gap = period / (2 * limit)
    arrivals = [i * gap for i in range(n)]
    # Server timestamps trail the limiter's decisions by the trip to the server: a few ms, but on a
    # busy machine a garbage-collection pause can stretch one trip much longer. Counting in a window
    # shortened by `slack` absorbs that; the usual bugs (a burst plus refill, an off-by-one, a time
    # taken before the wait) put limit + 1 requests within a few milliseconds and are still caught.
    slack = 0.15
    path = f"/anything/nb06-window-{uuid.uuid4().hex[:12]}"
    window = window_class(limit, period)

    # Five kept-alive connections, opened before the clock starts: every measured request then takes
    # the same short trip, so the server's timestamps are a faithful copy of the limiter's decisions.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as session:
        await asyncio.gather(*(_drain(session, f"{server.url}/get") for _ in range(limit)))

        async def one(i: int) -> None:
            await asyncio.sleep(arrivals[i])
            await window.acquire()
            await _drain(session, f"{server.url}{path}/{i}")

        gc.collect()  # a full collection now, rather than a pause in the middle of the measurement
        started = time.perf_counter()
        try:
            await asyncio.gather(*(one(i) for i in range(n)))
        except Exception as exc:  # the stub, or a learner error reported by @exercise
            raise_if_stub(exc)
            raise
        took = time.perf_counter() - started

    starts = [r.started for r in server.requests(path)]
    expect(
        len(starts) == n,
        f"the server saw {len(starts)} of the {n} requests",
        "acquire() must return once per call",
    )
    top = _busiest(starts, period - slack)
    if top > limit:
        expect(
            False,
            f"{top} requests reached the server within {period} s; the limit is {limit}",
            await _diagnose(window_class, limit, period),
        )
    needed = _ideal_starts(arrivals, limit, period)[-1]  # 21 callers, 5 per window: 2.0 s
    expect(
        took < 1.2 * needed + 0.3,
        f"{n} requests took {took:.1f} s; the rule allows them all within {needed:.1f} s",
        "let a caller through as soon as the oldest of the last `limit` starts is `period` old, no later",
    )
    return f"no {period} s window held more than {limit} requests, and the run kept pace with the rule"
