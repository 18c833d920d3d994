"""Wrong answers for notebook 00 · Start here."""

from __future__ import annotations

import asyncio

from helpers.checks import nb00

from . import Wrong


async def one_after_another(delays: list[float]) -> list[float]:
    """Awaits each sleep before starting the next: right results, no concurrency."""
    for seconds in delays:
        await asyncio.sleep(seconds)
    return list(delays)


async def in_finishing_order(delays: list[float]) -> list[float]:
    """Concurrent, but collects results as they finish instead of in the order given."""
    done = []

    async def nap(seconds: float) -> None:
        await asyncio.sleep(seconds)
        done.append(seconds)

    await asyncio.gather(*(nap(d) for d in delays))
    return done


WRONG = [
    Wrong("wait_all", "sleeps one after another", one_after_another, r"one after another"),
    Wrong("wait_all", "results in finishing order", in_finishing_order, r"in the order they were given"),
]

CHECKS = {"wait_all": lambda answer, lab: nb00.check_wait_all(answer)}
