"""Wrong answers for notebook 04 · Cancellation and timeouts."""

# ruff: noqa: BLE001
# (the wrong answers catch broadly the way the notebook's exercises ask a learner to)

from __future__ import annotations

import asyncio
from typing import Any

from helpers.checks import nb04

from . import Wrong

# gather_with_deadline


async def deadline_wait_without_cancel(coros: list[Any], seconds: float) -> list[Any]:
    """The notebook's demo: asyncio.wait(timeout=...) neither raises nor cancels; the late ones run on."""
    tasks = [asyncio.create_task(c) for c in coros]
    done, _ = await asyncio.wait(tasks, timeout=seconds)
    return [t.result() if t in done else None for t in tasks]


async def deadline_cancel_without_await(coros: list[Any], seconds: float) -> list[Any]:
    """Cancels the late ones but returns before they have finished cancelling."""
    tasks = [asyncio.create_task(c) for c in coros]
    done, pending = await asyncio.wait(tasks, timeout=seconds)
    for t in pending:
        t.cancel()
    return [t.result() if t in done else None for t in tasks]


async def deadline_raises_timeout(coros: list[Any], seconds: float) -> list[Any]:
    """asyncio.timeout around gather: everything is cancelled, and TimeoutError instead of partial results."""
    async with asyncio.timeout(seconds):
        return list(await asyncio.gather(*coros))


async def deadline_done_is_not_success(coros: list[Any], seconds: float) -> list[Any]:
    """timeout around a TaskGroup, then `t.result() if t.done()`: a cancelled task is done too."""
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.timeout(seconds):
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(c) for c in coros]
    except TimeoutError:
        pass
    return [t.result() if t.done() else None for t in tasks]


async def deadline_one_after_another(coros: list[Any], seconds: float) -> list[Any]:
    """Awaits each coroutine in turn under what is left of the deadline: they never run together."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    results: list[Any] = []
    for c in coros:
        try:
            async with asyncio.timeout_at(deadline):
                results.append(await c)
        except TimeoutError:
            results.append(None)
    return results


async def deadline_only_finished_results(coros: list[Any], seconds: float) -> list[Any]:
    """Returns only the results that came in, so the list no longer lines up with the coroutines."""
    tasks = [asyncio.create_task(c) for c in coros]
    done, pending = await asyncio.wait(tasks, timeout=seconds)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return [t.result() for t in tasks if t in done]


async def deadline_always_sleeps(coros: list[Any], seconds: float) -> list[Any]:
    """Starts everything, then sleeps until the deadline even when all are done long before."""
    tasks = [asyncio.create_task(c) for c in coros]
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return [None if t.cancelled() else t.result() for t in tasks]


# resilient_worker


async def worker_bare_except(queue: asyncio.Queue[Any], results: list[Any]) -> None:
    """The notebook's starting code: a bare `except:` also catches CancelledError, so it never stops."""
    while True:
        job = await queue.get()
        try:
            try:
                results.append(await job())
            except:  # noqa: E722 - the mistake under test
                results.append(None)
        finally:
            queue.task_done()


async def worker_except_base_exception(queue: asyncio.Queue[Any], results: list[Any]) -> None:
    """`except BaseException` instead of the bare except: the same bug in a longer spelling."""
    while True:
        job = await queue.get()
        try:
            try:
                results.append(await job())
            except BaseException:
                results.append(None)
        finally:
            queue.task_done()


async def worker_returns_on_cancel(queue: asyncio.Queue[Any], results: list[Any]) -> None:
    """Notices the cancellation but returns instead of re-raising: the task ends as "finished"."""
    while True:
        job = await queue.get()
        try:
            try:
                results.append(await job())
            except asyncio.CancelledError:
                return
            except Exception:
                results.append(None)
        finally:
            queue.task_done()


async def worker_no_task_done_on_failure(queue: asyncio.Queue[Any], results: list[Any]) -> None:
    """Calls task_done() only after a job that worked: queue.join() waits forever after a failure."""
    while True:
        job = await queue.get()
        try:
            results.append(await job())
            queue.task_done()
        except Exception:
            results.append(None)


async def worker_dies_on_a_failing_job(queue: asyncio.Queue[Any], results: list[Any]) -> None:
    """No except at all: the first failing job ends the worker."""
    while True:
        job = await queue.get()
        try:
            results.append(await job())
        finally:
            queue.task_done()


async def worker_stops_when_queue_is_empty(queue: asyncio.Queue[Any], results: list[Any]) -> None:
    """Loops while the queue has jobs, so it returns as soon as the queue is empty, instead of waiting."""
    while not queue.empty():
        job = await queue.get()
        try:
            try:
                results.append(await job())
            except Exception:
                results.append(None)
        finally:
            queue.task_done()


WRONG = [
    Wrong(
        "gather_with_deadline",
        "asyncio.wait without cancel",
        deadline_wait_without_cancel,
        r"were never cancelled.*\n.*cancel",
    ),
    Wrong(
        "gather_with_deadline",
        "cancelled, not awaited",
        deadline_cancel_without_await,
        r"cancelled but not awaited",
    ),
    Wrong(
        "gather_with_deadline",
        "TimeoutError instead of partial results",
        deadline_raises_timeout,
        r"TimeoutError came out.*\n.*partial results",
    ),
    Wrong(
        "gather_with_deadline",
        "a cancelled task counts as done",
        deadline_done_is_not_success,
        r"cancelled task is done too",
    ),
    Wrong("gather_with_deadline", "one after another", deadline_one_after_another, r"ran one after another"),
    Wrong(
        "gather_with_deadline",
        "only the finished results",
        deadline_only_finished_results,
        r"one entry per coroutine.*None",
    ),
    Wrong(
        "gather_with_deadline",
        "always sleeps until the deadline",
        deadline_always_sleeps,
        r"do not sleep until",
    ),
    Wrong("resilient_worker", "bare except", worker_bare_except, r"bare `except:`"),
    Wrong(
        "resilient_worker", "except BaseException", worker_except_base_exception, r"`except BaseException:`"
    ),
    Wrong(
        "resilient_worker",
        "returns when cancelled",
        worker_returns_on_cancel,
        r"do not turn it into a return",
    ),
    Wrong(
        "resilient_worker",
        "task_done only on success",
        worker_no_task_done_on_failure,
        r"task_done\(\) once per job, also when the job fails",
    ),
    Wrong(
        "resilient_worker",
        "dies on a failing job",
        worker_dies_on_a_failing_job,
        r"catch the job's exception",
    ),
    Wrong(
        "resilient_worker",
        "stops when the queue is empty",
        worker_stops_when_queue_is_empty,
        r"queue ran empty.*\n.*queue\.get\(\)",
    ),
]

CHECKS = {
    "gather_with_deadline": lambda answer, lab: nb04.check_gather_with_deadline(answer),
    "resilient_worker": lambda answer, lab: nb04.check_resilient_worker(answer),
}
