"""Scenario pieces that several notebooks' checks drive learner code with."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine, Iterable
from typing import Any

from helpers.checks import stop_stray_tasks


class InFlight:
    """Calls in progress now and the most at once, for a check's own probes: ``with probe.in_flight:``."""

    def __init__(self) -> None:
        self.now = self.peak = 0

    def __enter__(self) -> InFlight:
        self.now += 1
        self.peak = max(self.peak, self.now)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.now -= 1


async def attempt(log: dict[str, str], name: str, seconds: float, outcome: Any) -> Any:
    """Sleep, then return ``outcome`` or raise it; note in ``log`` how it ended.

    ``log`` maps each name to its latest state; its insertion order is the order of the starts, and
    ``log["#events"]`` (if present, a list) receives every change as "name state", in order.
    """

    def note(state: str) -> None:
        log[name] = state
        events = log.get("#events")
        if isinstance(events, list):
            events.append(f"{name} {state}")

    note("started")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        note("cancelled")
        raise
    if isinstance(outcome, BaseException):
        note("failed")
        raise outcome
    note("finished")
    return outcome


async def clean_up(coros: Iterable[Coroutine[Any, Any, Any]], before: set[asyncio.Task[Any]]) -> None:
    """Cancel and await what the learner's code left running; close coroutines it never started."""
    await stop_stray_tasks(before)
    for coro in coros:
        # Only after the tasks are gone: a task that never got to run still holds an unstarted coroutine.
        if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
            coro.close()  # never started: close it so Python does not warn "never awaited"
