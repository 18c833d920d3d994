"""Wrong answers for notebook 03 · Tasks and futures."""

# ruff: noqa: BLE001
# (the wrong answers catch broadly the way the notebook's exercises ask a learner to)

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from helpers.checks import nb03

from . import Wrong

# call_async


async def call_async_unguarded(api: Callable[..., Any], *args: Any) -> Any:
    """The notebook's demo: the callback sets the result even after a timeout cancelled the future."""
    fut = asyncio.get_running_loop().create_future()
    api(*args, fut.set_result)
    return await fut


async def call_async_polling(api: Callable[..., Any], *args: Any) -> Any:
    """No Future: polls a list until the callback has filled it, waking up every few milliseconds."""
    box: list[Any] = []
    api(*args, box.append)
    while not box:
        await asyncio.sleep(0.002)
    return box[0]


async def call_async_result_without_await(api: Callable[..., Any], *args: Any) -> Any:
    """Asks the future for its result at once instead of awaiting it: InvalidStateError."""
    fut = asyncio.get_running_loop().create_future()

    def on_done(value: Any) -> None:
        if not fut.done():
            fut.set_result(value)

    api(*args, on_done)
    return fut.result()


async def call_async_runs_the_loop(api: Callable[..., Any], *args: Any) -> Any:
    """Old-style code: runs the loop until the future is done, from inside the running loop."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def on_done(value: Any) -> None:
        if not fut.done():
            fut.set_result(value)

    api(*args, on_done)
    return loop.run_until_complete(fut)


async def call_async_returns_the_future(api: Callable[..., Any], *args: Any) -> Any:
    """Returns the future itself from the coroutine: the caller gets a Future, not the value."""
    fut = asyncio.get_running_loop().create_future()

    def on_done(value: Any) -> None:
        if not fut.done():
            fut.set_result(value)

    api(*args, on_done)
    return fut


# first_successful


async def first_finished(coros: list[Any]) -> Any:
    """Returns whatever finishes first, success or failure (and leaves the rest running)."""
    tasks = [asyncio.create_task(c) for c in coros]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    return done.pop().result()


async def first_successful_leaves_the_rest(coros: list[Any]) -> Any:
    """Right answer, but returns without cancelling the tasks still running."""
    errors = []
    for next_done in asyncio.as_completed(coros):
        try:
            return await next_done
        except Exception as exc:
            errors.append(exc)
    raise ExceptionGroup("every attempt failed", errors)


async def first_successful_cancels_but_does_not_await(coros: list[Any]) -> Any:
    """Cancels the losers but returns before they have finished cancelling."""
    tasks = [asyncio.create_task(c) for c in coros]
    errors = []
    try:
        for next_done in asyncio.as_completed(tasks):
            try:
                return await next_done
            except Exception as exc:
                errors.append(exc)
        raise ExceptionGroup("every attempt failed", errors)
    finally:
        for task in tasks:
            task.cancel()


async def first_successful_in_list_order(coros: list[Any]) -> Any:
    """Runs them all, but waits for them in the order given: returns the first success *in the list*."""
    tasks = [asyncio.create_task(c) for c in coros]
    errors = []
    try:
        for task in tasks:
            try:
                return await task
            except Exception as exc:
                errors.append(exc)
        raise ExceptionGroup("every attempt failed", errors)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def first_successful_waits_for_all(coros: list[Any]) -> Any:
    """Gathers everything, then picks the first good result: waits for the slowest attempt."""
    results = await asyncio.gather(*coros, return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]
    for r in results:
        if not isinstance(r, BaseException):
            return r
    raise ExceptionGroup("every attempt failed", errors)


async def first_successful_raises_the_last_error(coros: list[Any]) -> Any:
    """Right when one succeeds; when all fail it re-raises only the last error."""
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        for next_done in asyncio.as_completed(tasks):
            try:
                return await next_done
            except Exception as exc:
                last = exc
        raise last
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


WRONG = [
    Wrong("call_async", "late callback not guarded", call_async_unguarded, r"only `if not fut\.done\(\)`"),
    Wrong("call_async", "polls instead of awaiting a future", call_async_polling, r"polling"),
    Wrong("call_async", "fut.result() without await", call_async_result_without_await, r"does not wait"),
    Wrong("call_async", "runs the loop from inside it", call_async_runs_the_loop, r"run_until_complete"),
    Wrong("call_async", "returns the future", call_async_returns_the_future, r"return await fut"),
    Wrong(
        "first_successful",
        "first finished, not first successful",
        first_finished,
        r"failed attempt is not the end",
    ),
    Wrong(
        "first_successful",
        "losers left running",
        first_successful_leaves_the_rest,
        r"were never cancelled",
    ),
    Wrong(
        "first_successful",
        "losers cancelled, not awaited",
        first_successful_cancels_but_does_not_await,
        r"cancelled but not awaited",
    ),
    Wrong(
        "first_successful",
        "first in list order",
        first_successful_in_list_order,
        r"not the first in the list",
    ),
    Wrong(
        "first_successful",
        "waits for every attempt",
        first_successful_waits_for_all,
        r"instead of waiting for all",
    ),
    Wrong(
        "first_successful",
        "raises only the last error",
        first_successful_raises_the_last_error,
        r"ExceptionGroup\('every attempt failed'",
    ),
]

CHECKS = {
    "call_async": lambda answer, lab: nb03.check_call_async(answer),
    "first_successful": lambda answer, lab: nb03.check_first_successful(answer),
}
