"""Wrong answers for notebook 01 · The event loop."""

from __future__ import annotations

import asyncio
import time

from helpers.checks import nb01

from . import Wrong

# The notebook's two helpers, exactly as its exercise cell defines them.


async def fetch_page(n: int) -> str:
    await asyncio.sleep(0.05)
    return f"page {n}"


def be_polite(seconds: float) -> None:
    time.sleep(seconds)


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


# crawl


async def crawl_blocking_pause(pages: list[int]) -> list[str]:
    """The notebook's starting code: the polite pause is time.sleep, which holds the whole loop."""

    async def polite_fetch(n: int) -> str:
        be_polite(0.1)
        return await fetch_page(n)

    return await asyncio.gather(*(polite_fetch(n) for n in pages))


async def crawl_one_page_at_a_time(pages: list[int]) -> list[str]:
    """Never blocks, but fetches the pages one after another: 8 × 0.15 s instead of 0.15 s."""
    results = []
    for n in pages:
        await asyncio.sleep(0.1)
        results.append(await fetch_page(n))
    return results


async def crawl_pauses_in_a_row(pages: list[int]) -> list[str]:
    """Starts each fetch as a task, but waits out each pause before starting the next fetch."""
    tasks = []
    for n in pages:
        await asyncio.sleep(0.1)
        tasks.append(asyncio.create_task(fetch_page(n)))
    return list(await asyncio.gather(*tasks))


async def crawl_behind_a_lock(pages: list[int]) -> list[str]:
    """Tasks for every page, but a lock "to be polite" lets only one of them work at a time."""
    lock = asyncio.Lock()

    async def polite_fetch(n: int) -> str:
        async with lock:
            await asyncio.sleep(0.1)
            return await fetch_page(n)

    return await asyncio.gather(*(polite_fetch(n) for n in pages))


async def crawl_sleep_not_awaited(pages: list[int]) -> list[str]:
    """Swapped in asyncio.sleep but forgot the await: the pause silently never happens."""

    async def polite_fetch(n: int) -> str:
        pause = asyncio.sleep(0.1)  # a coroutine object nobody awaits
        pause.close()  # (closed here only to keep the test run free of "never awaited" warnings)
        return await fetch_page(n)

    return await asyncio.gather(*(polite_fetch(n) for n in pages))


# count_primes


async def count_primes_blocking(limit: int) -> int:
    """The notebook's starting code: right count, but the loop is held for the whole count."""
    return sum(is_prime(n) for n in range(2, limit))


async def checkpoint() -> None:
    pass


async def count_primes_await_that_never_yields(limit: int) -> int:
    """The notebook's own demo: awaiting a coroutine with nothing to wait for gives nobody a turn."""
    count, since = 0, time.perf_counter()
    for n in range(2, limit):
        count += is_prime(n)
        if time.perf_counter() - since > 0.005:
            await checkpoint()  # an await, but not a switch point
            since = time.perf_counter()
    return count


async def count_primes_sleep_not_awaited(limit: int) -> int:
    """Calls asyncio.sleep(0) without await: the checkpoint is a coroutine object, never run."""
    count, since = 0, time.perf_counter()
    for n in range(2, limit):
        count += is_prime(n)
        if time.perf_counter() - since > 0.005:
            asyncio.sleep(0).close()  # as `asyncio.sleep(0)` alone; closed to keep the run quiet
            since = time.perf_counter()
    return count


async def count_primes_rare_checkpoints(limit: int) -> int:
    """Checkpoints every 25,000 numbers: three of them, so the loop is held for a third of the run."""
    count = 0
    for n in range(2, limit):
        count += is_prime(n)
        if n % 25_000 == 0:
            await asyncio.sleep(0)
    return count


async def count_primes_chunks_lose_an_edge(limit: int) -> int:
    """Counts in chunks with a checkpoint after each, but each chunk stops one number short."""
    count, chunk = 0, 1000
    for start in range(2, limit, chunk):
        count += sum(is_prime(n) for n in range(start, min(start + chunk, limit) - 1))
        await asyncio.sleep(0)
    return count


WRONG = [
    Wrong("crawl", "blocking pause", crawl_blocking_pause, r"blocks without `await`.*asyncio twin"),
    Wrong("crawl", "one page at a time", crawl_one_page_at_a_time, r"one page at a time"),
    Wrong("crawl", "pauses one after another", crawl_pauses_in_a_row, r"one page at a time"),
    Wrong("crawl", "a lock serialises the pages", crawl_behind_a_lock, r"one after another.*lock"),
    Wrong("crawl", "sleep not awaited", crawl_sleep_not_awaited, r"forget `await`"),
    Wrong(
        "count_primes",
        "no checkpoint at all",
        count_primes_blocking,
        r"never gave (another task|the loop) a turn",
    ),
    Wrong(
        "count_primes",
        "await of a coroutine that never yields",
        count_primes_await_that_never_yields,
        r"coroutine that has nothing to wait for",
    ),
    Wrong(
        "count_primes",
        "asyncio.sleep(0) without await",
        count_primes_sleep_not_awaited,
        r"without `await`",
    ),
    Wrong(
        "count_primes",
        "checkpoints too rare",
        count_primes_rare_checkpoints,
        r"checkpoints? (is|are) too rare",
    ),
    Wrong(
        "count_primes", "chunks lose their edges", count_primes_chunks_lose_an_edge, r"edges of your chunks"
    ),
]

CHECKS = {
    "crawl": lambda answer, lab: nb01.check_crawl(answer),
    "count_primes": lambda answer, lab: nb01.check_count_primes(answer),
}
