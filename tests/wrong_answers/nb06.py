"""Wrong answers for notebook 06 · Flow control."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from helpers.checks import nb06

from . import Wrong

# ------------------------------------------------------------------ map_async


async def run_pool(work, items, limit):
    """The notebook's run_pool: queue.join(), then cancel and gather(return_exceptions=True) the
    workers, which swallows the error of a worker that died (its item's result stays None)."""
    items = list(items)
    results = [None] * len(items)
    queue = asyncio.Queue(maxsize=limit)

    async def worker():
        while True:
            index, item = await queue.get()
            try:
                results[index] = await work(item)
            finally:
                queue.task_done()

    tasks = [asyncio.create_task(worker()) for _ in range(limit)]
    for pair in enumerate(items):
        await queue.put(pair)
    await queue.join()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def semaphore_and_one_big_gather(fn, items, limit):
    """A Semaphore bounds the calls, but gather() makes one task per item up front."""
    gate = asyncio.Semaphore(limit)

    async def one(item):
        async with gate:
            return await fn(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def in_finishing_order(fn, items, limit):
    """Workers append each result as its call finishes: the list is in finishing order."""
    results, pairs = [], iter(items)

    async def worker():
        for item in pairs:
            results.append(await fn(item))

    async with asyncio.TaskGroup() as tg:
        for _ in range(limit):
            tg.create_task(worker())
    return results


async def in_batches(fn, items, limit):
    """Runs the items in batches of `limit`: each batch waits for its slowest call while slots sit idle."""
    items, results = list(items), []
    for start in range(0, len(items), limit):
        async with asyncio.TaskGroup() as tg:
            batch = [tg.create_task(fn(item)) for item in items[start : start + limit]]
        results += [task.result() for task in batch]
    return results


async def finishes_everything_first(fn, items, limit):
    """Workers note an error and carry on; the first error is raised only when every item was tried."""
    items = list(items)
    results, errors = [None] * len(items), []
    pairs = iter(enumerate(items))

    async def worker():
        for index, item in pairs:
            try:
                results[index] = await fn(item)
            except Exception as exc:  # noqa: BLE001 - the mistake on show
                errors.append(exc)

    async with asyncio.TaskGroup() as tg:
        for _ in range(min(limit, len(items))):
            tg.create_task(worker())
    if errors:
        raise errors[0]
    return results


async def sentinel_pool_with_gather(fn, items, limit):
    """The notebook's sentinel pool: gather() raises the error but leaves the other workers running."""
    done = object()
    items = list(items)
    results = [None] * len(items)
    queue = asyncio.Queue(maxsize=limit)

    async def worker():
        while (entry := await queue.get()) is not done:
            index, item = entry
            results[index] = await fn(item)

    tasks = [asyncio.create_task(worker()) for _ in range(limit)]
    for pair in enumerate(items):
        await queue.put(pair)
    for _ in tasks:
        await queue.put(done)
    await asyncio.gather(*tasks)
    return results


# ------------------------------------------------------------------ SlidingWindow


class TokenBucketWindow:
    """The notebook's token bucket with capacity=limit and rate=limit/period: a burst *plus* its refill."""

    def __init__(self, limit, period):
        self.rate, self.capacity = limit / period, limit
        self.tokens, self.updated = float(limit), time.perf_counter()
        self.lock = asyncio.Lock()

    async def acquire(self):
        async with self.lock:
            while True:
                now = time.perf_counter()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class FixedWindow:
    """A counter that resets every period (opened by the first acquire): the end of one window and
    the start of the next can hold 2 × limit within a moment."""

    def __init__(self, limit, period):
        self.limit, self.period = limit, period
        self.opened, self.count = None, 0
        self.lock = asyncio.Lock()

    async def acquire(self):
        async with self.lock:
            now = time.perf_counter()
            if self.opened is None or now - self.opened >= self.period:
                self.opened, self.count = now, 0
            if self.count == self.limit:
                await asyncio.sleep(self.opened + self.period - now)
                self.opened, self.count = time.perf_counter(), 0
            self.count += 1


class OffByOne:
    """Waits only when more than `limit` starts are remembered: limit + 1 get through per window."""

    def __init__(self, limit, period):
        self.limit, self.period = limit, period
        self.starts = deque()
        self.lock = asyncio.Lock()

    async def acquire(self):
        async with self.lock:
            if len(self.starts) > self.limit:
                wait = self.starts[0] + self.period - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.starts.popleft()
            self.starts.append(time.perf_counter())


class NoLock:
    """The deque, but no lock: every waiter reads the same oldest start and all wake together."""

    def __init__(self, limit, period):
        self.limit, self.period = limit, period
        self.starts = deque()

    async def acquire(self):
        if len(self.starts) >= self.limit:
            wait = self.starts[0] + self.period - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            self.starts.popleft()
        self.starts.append(time.perf_counter())


class TimeBeforeTheWait:
    """Reads the clock before waiting and records that stale time as the start."""

    def __init__(self, limit, period):
        self.limit, self.period = limit, period
        self.starts = deque()
        self.lock = asyncio.Lock()

    async def acquire(self):
        async with self.lock:
            now = time.perf_counter()
            if len(self.starts) == self.limit:
                wait = self.starts[0] + self.period - now
                if wait > 0:
                    await asyncio.sleep(wait)
                self.starts.popleft()
            self.starts.append(now)


class OneAtATime:
    """Safe but slow: sleeps a whole period after every `limit` acquisitions, however old they are."""

    def __init__(self, limit, period):
        self.limit, self.period = limit, period
        self.count = 0
        self.lock = asyncio.Lock()

    async def acquire(self):
        async with self.lock:
            if self.count == self.limit:
                await asyncio.sleep(self.period)
                self.count = 0
            self.count += 1
            await asyncio.sleep(self.period / self.limit)  # "and spread them out, to be safe"


WRONG = [
    Wrong("map_async", "run_pool swallows the error", run_pool, r"return_exceptions=True"),
    Wrong("map_async", "one big gather", semaphore_and_one_big_gather, r"one task per item"),
    Wrong("map_async", "results in finishing order", in_finishing_order, r"input order"),
    Wrong("map_async", "batches of limit", in_batches, r"batches"),
    Wrong(
        "map_async", "keeps calling fn after an error", finishes_everything_first, r"stop the other workers"
    ),
    Wrong("map_async", "sentinel pool with gather", sentinel_pool_with_gather, r"TaskGroup"),
    Wrong("sliding_window", "a token bucket", TokenBucketWindow, r"token bucket"),
    Wrong("sliding_window", "a counter reset every period", FixedWindow, r"reset every period"),
    Wrong("sliding_window", "off by one", OffByOne, r"limit \+ 1|off by one"),
    Wrong("sliding_window", "no lock", NoLock, r"lock"),
    Wrong("sliding_window", "clock read before the wait", TimeBeforeTheWait, r"after the wait"),
    Wrong("sliding_window", "waits longer than the rule", OneAtATime, r"as soon as"),
]

CHECKS = {
    "map_async": lambda answer, lab: nb06.check_map_async(answer),
    "sliding_window": lambda answer, lab: nb06.check_sliding_window(answer, lab.server),
}
