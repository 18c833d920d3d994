"""Checks for notebook 01 · The event loop.

Both exercises hand the learner code that gives the right answer but stalls the event loop. A check
runs the learner's coroutine under ``helpers.timeline.LagMonitor`` (a heartbeat task that records
how late it wakes) and passes only if the answer is still right *and* the heartbeat stayed on time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from helpers.checks import exercise, expect, tasks_alive_since
from helpers.timeline import LagMonitor

# For the crawl: a loop that only waits wakes the heartbeat within a few ms, even on a busy machine;
# the blocking version stalls it for 0.8 s. 0.1 s sits far from both.
LAG_BOUND = 0.1


# The crawl's pages all pause and fetch at once: about 0.15 s in all. One after another they take
# 8 × 0.15 s = 1.2 s; 0.6 s sits far from both, whatever the machine's load (the waits are timers).
CRAWL_UPPER = 0.6


async def _peak_tasks(before: set[asyncio.Task[Any]], peak: list[int]) -> None:
    """Sample how many tasks created since ``before`` are alive at once; the peak goes in ``peak[0]``."""
    while True:
        peak[0] = max(peak[0], len(tasks_alive_since(before)))
        await asyncio.sleep(0.005)


@exercise("crawl without blocking", timeout=20)
async def check_crawl(crawl: Callable[[list[int]], Awaitable[list[str]]]) -> str:
    pages = list(range(8))
    peak = [0]
    async with LagMonitor() as lag:
        before = asyncio.all_tasks()
        sampler = asyncio.create_task(_peak_tasks(before, peak), name="peak-sampler")
        before.add(sampler)
        started = time.perf_counter()
        try:
            result = await crawl(pages)
        finally:
            took = time.perf_counter() - started
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
    want = [f"page {n}" for n in pages]
    expect(
        result == want,
        f"crawl({pages}) returned {result!r}",
        "return what fetch_page gives for each page, in order (asyncio.gather keeps the order)",
    )
    expect(
        lag.max_lag < LAG_BOUND,
        f"the event loop was stalled for {lag.max_lag * 1000:.0f} ms at a time (allowed: {LAG_BOUND * 1000:.0f} ms)",
        "a call inside crawl blocks without `await`: read the helpers it calls; replace the blocking one with its asyncio twin",
    )
    # Every page still waits its polite 0.1 s and then 0.05 s for the "network": 0.15 s at the least.
    expect(
        took >= 0.14,
        f"crawl finished in {took:.2f} s, faster than one polite pause plus one fetch",
        "the 0.1 s pause did not happen: did you forget `await` before asyncio.sleep(0.1)? "
        "Keep the pause before each request; only change *how* it waits",
    )
    # Counted, not timed: a crawl that fetches one page at a time has at most one task of its own alive.
    expect(
        peak[0] >= len(pages) // 2,
        f"at most {peak[0]} of the {len(pages)} pages were in progress at once ({took:.2f} s in all)",
        "crawl went one page at a time: give every page its own task, pause included "
        "(asyncio.gather(*(polite_fetch(n) for n in pages))), so that the pauses overlap",
    )
    expect(
        took < CRAWL_UPPER,
        f"crawl took {took:.2f} s; with the pages' pauses overlapping it takes about 0.15 s",
        "the pages' tasks ran one after another: something makes them take turns (a lock or a semaphore "
        "around the pause?); the pause is for each request, not a turn to wait for",
    )
    return f"{len(pages)} pages, polite pauses kept, loop never stalled more than {lag.max_lag * 1000:.0f} ms"


# For the CPU exercise: the worst stall may be a quarter of the whole run, and never more than this.
CPU_LAG_CAP = 0.25

# Primes below 100_000, by any correct method: the check never recomputes it (that would cost ~0.5 s).
PRIMES_BELOW_100K = 9592


@exercise("count primes without stalling the loop", timeout=120)
async def check_count_primes(count_primes_async: Callable[[int], Awaitable[int]]) -> str:
    limit = 100_000
    started = time.perf_counter()
    async with LagMonitor() as lag:
        result = await count_primes_async(limit)
    took = time.perf_counter() - started
    expect(
        result == PRIMES_BELOW_100K,
        f"count_primes_async({limit}) returned {result!r}, not {PRIMES_BELOW_100K}",
        "count every n from 2 up to (not including) limit with is_prime; check the edges of your chunks",
    )
    # The bound is relative: the untouched version stalls the loop for the whole run, a fixed one for
    # a small fraction of it. A fixed bound would not do: on a machine fast enough to count in 0.1 s
    # the blocking version would pass it, and on an overloaded one the OS alone deschedules a
    # CPU-bound process for tens of milliseconds (measured: 30-90 ms at load 6 on 2 cores).
    bound = min(CPU_LAG_CAP, took / 4)
    # Whether the loop got a turn at all is a count: with no real checkpoint the heartbeat never wakes
    # during the count, and its only sample is the one LagMonitor takes at the end.
    expect(
        lag.max_lag < bound or len(lag.samples) > 1,
        f"the event loop was held for the whole count ({lag.max_lag * 1000:.0f} ms): it never gave another task a turn",
        "add a checkpoint that really yields, `await asyncio.sleep(0)`, every few milliseconds; "
        "`asyncio.sleep(0)` without `await` does nothing, and awaiting a coroutine that has nothing to wait for "
        "gives no turn either",
    )
    expect(
        lag.max_lag < bound,
        f"the event loop was stalled for {lag.max_lag * 1000:.0f} ms at a time (allowed: {bound * 1000:.0f} ms)",
        "your checkpoints are too rare: put `await asyncio.sleep(0)` after every few milliseconds of work "
        "(time it with time.perf_counter(), not in numbers checked)",
    )
    return f"right count, loop never stalled more than {lag.max_lag * 1000:.0f} ms"
