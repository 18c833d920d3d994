"""Checks for notebook 00 · Start here."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from helpers.checks import exercise, expect


@exercise("wait_all", timeout=5)
async def check_wait_all(wait_all: Callable[[list[float]], Awaitable[list[float]]]) -> str:
    delays = [0.3, 0.1, 0.2]
    started = time.perf_counter()
    result = await wait_all(delays)
    took = time.perf_counter() - started
    expect(
        result == delays,
        f"returned {result!r}",
        "return the delays in the order they were given, e.g. what asyncio.gather gives back",
    )
    # Run one after another the sleeps take 0.6 s; together, about 0.3 s. 0.5 leaves room for a busy machine.
    expect(
        took < 0.5,
        "the sleeps ran one after another",
        "start all the sleeps together with asyncio.gather instead of awaiting them one by one",
    )
    return "three sleeps ran at the same time and came back in order"
