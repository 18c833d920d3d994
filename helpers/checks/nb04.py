"""Checks for notebook 04 · Cancellation and timeouts.

    from helpers.checks import nb04
    await nb04.check_gather_with_deadline(gather_with_deadline)
    await nb04.check_resilient_worker(resilient_worker)

The coroutines handed to the learner's code note in a log how they ended, so a check can tell a
late coroutine that was cancelled *and awaited* (its cleanup ran) from one that was only asked to
stop. Whatever the learner's code leaves running is cancelled and awaited before the check ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from helpers.checks import being_cancelled, exercise, expect, tasks_alive_since
from helpers.checks.scenarios import attempt, clean_up

__all__ = ["check_gather_with_deadline", "check_resilient_worker"]


@exercise("gather_with_deadline", timeout=20)
async def check_gather_with_deadline(
    gather_with_deadline: Callable[[list[Any], float], Awaitable[list[Any]]],
) -> str:
    before = asyncio.all_tasks()
    events: list[str] = []
    log: dict[str, Any] = {"#events": events}
    deadline = 0.5
    plan = [("quick", 0.05, "q"), ("late", 3.0, "l"), ("medium", 0.15, "m"), ("stuck", 60, "s")]
    coros = [attempt(log, *step) for step in plan]
    try:
        started = time.perf_counter()
        # Awaited in this very task, not in a task of its own: the moment it returns, before the loop
        # runs anything else, shows whether the late tasks were cancelled *and awaited*.
        try:
            async with asyncio.timeout(5 * deadline) as limit:
                results = await gather_with_deadline(coros, deadline)
        except TimeoutError:
            expect(
                not limit.expired(),
                f"still waiting {5 * deadline:.1f} s after starting, with a deadline of {deadline} s",
                "stop waiting at the deadline: asyncio.wait(tasks, timeout=seconds), or asyncio.timeout(seconds) "
                "around a TaskGroup — then cancel what is still running",
            )
            expect(
                False,
                f"a TimeoutError came out of gather_with_deadline after {time.perf_counter() - started:.2f} s",
                "the caller wants partial results, not an error: catch the TimeoutError (or use asyncio.wait(tasks, "
                "timeout=seconds), which does not raise) and return each finished task's result, None for the rest",
            )
        except asyncio.CancelledError:
            if being_cancelled():
                raise  # the check itself is being cancelled
            expect(
                False,
                "gather_with_deadline raised CancelledError",
                "a cancelled task is done too, and task.result() on it raises CancelledError: take the results of "
                "the tasks in `done`, or check task.cancelled() before task.result()",
            )
        took = time.perf_counter() - started
        left = tasks_alive_since(before)
        first_end = next((i for i, e in enumerate(events) if not e.endswith("started")), len(events))
        expect(
            sum(e.endswith("started") for e in events[:first_end]) == len(plan),
            f"the coroutines ran one after another: {events[:4]}",
            "start every coroutine as a task first (asyncio.create_task for each), then wait for all of them "
            "together under one deadline",
        )
        expect(
            results == ["q", None, "m", None],
            f"returned {results!r}, expected ['q', None, 'm', None]",
            "return one entry per coroutine in the order given: its result if it finished in time, None if not",
        )
        running = sorted(name for name in ("late", "stuck") if log.get(name) == "started")
        expect(
            not any(task.cancelling() for task in left),
            f"the late coroutines {running} were cancelled but not awaited: still running when "
            "gather_with_deadline returned",
            "task.cancel() only asks; await the cancelled tasks too "
            "(asyncio.gather(*pending, return_exceptions=True)) so their cleanup runs before you return",
        )
        expect(
            not left,
            f"the late coroutines {running} were never cancelled: still running after gather_with_deadline returned",
            "asyncio.wait(..., timeout=...) neither raises nor cancels: cancel the tasks still pending at the "
            "deadline, then await them (asyncio.gather(*pending, return_exceptions=True))",
        )
        late = {name: log.get(name, "never started") for name in ("late", "stuck")}
        expect(
            all(state == "cancelled" for state in late.values()),
            f"the late coroutines ended as {late}",
            "cancel the tasks still running at the deadline and await them "
            "(asyncio.gather(*pending, return_exceptions=True)) so their cleanup runs before you return",
        )
        # Generous: the deadline plus the late tasks' cleanup should take about `deadline`.
        expect(
            0.9 * deadline <= took < 3 * deadline,
            f"took {took:.2f} s for a deadline of {deadline} s",
            "give every coroutine until the deadline, then stop waiting at once",
        )
    finally:
        await clean_up(coros, before)

    # Everything is done long before the deadline: nobody should wait for the deadline.
    log = {}
    coros = [attempt(log, "a", 0.05, 1), attempt(log, "b", 0.1, 2)]
    try:
        started = time.perf_counter()
        results = await gather_with_deadline(coros, 5.0)
        took = time.perf_counter() - started
        expect(
            results == [1, 2],
            f"with a generous deadline it returned {results!r}, expected [1, 2]",
            "when every coroutine finishes in time, return all their results in order",
        )
        expect(
            took < 0.4 * 5.0,
            f"took {took:.1f} s although both coroutines were done after about 0.1 s",
            "return as soon as everything has finished; do not sleep until the deadline",
        )
    finally:
        await clean_up(coros, before)
    return "results in order with None for the late ones, late ones cancelled and awaited, early return when all finish"


async def _value(value: Any) -> Any:
    await asyncio.sleep(0.01)
    return value


async def _broken() -> Any:
    await asyncio.sleep(0.01)
    raise ValueError("this job fails")


async def _long() -> Any:
    await asyncio.sleep(30)
    return "long"


@exercise("resilient_worker", timeout=10)
async def check_resilient_worker(
    resilient_worker: Callable[[asyncio.Queue[Any], list[Any]], Awaitable[None]],
) -> str:
    before = asyncio.all_tasks()
    queue: asyncio.Queue[Callable[[], Awaitable[Any]]] = asyncio.Queue()
    results: list[Any] = []
    for job in (lambda: _value(1), _broken, lambda: _value(3)):
        queue.put_nowait(job)
    worker: asyncio.Task[Any] = asyncio.create_task(
        cast("Coroutine[Any, Any, None]", resilient_worker(queue, results)), name="worker"
    )
    try:
        try:
            async with asyncio.timeout(2):
                await queue.join()
        except TimeoutError:
            crashed = worker.done() and not worker.cancelled() and worker.exception()
            expect(
                not crashed,
                f"the worker stopped with {crashed!r} after a failing job",
                "catch the job's exception (`except Exception`), record None, and go on with the next job",
            )
            expect(
                False,
                "after 2 s the three jobs were still not all marked done",
                "call queue.task_done() once per job, also when the job fails (a `finally` does that)",
            )
        expect(
            results == [1, None, 3],
            f"results are {results!r}, expected [1, None, 3]",
            "append each job's result, or None when the job raised an exception",
        )
        queue.put_nowait(_long)
        await asyncio.sleep(0.05)  # the worker is now in the middle of the long job
        ended = worker.done() and not worker.cancelled()
        how = f"raised {worker.exception()!r}" if ended and worker.exception() else "returned"
        expect(
            not ended,
            f"the worker {how} as soon as the queue ran empty, before the next job came",
            "a worker runs forever: loop with `while True` and wait for the next job in `await queue.get()`",
        )
        worker.cancel()
        done, _ = await asyncio.wait({worker}, timeout=1.0)
        expect(
            worker in done,
            "cancelled in the middle of a job, the worker kept running",
            "your `except` also catches CancelledError (a bare `except:` or `except BaseException:`); "
            "catch `Exception` instead — CancelledError is not an Exception — or re-raise CancelledError",
        )
        expect(
            worker.cancelled(),
            "the worker returned instead of ending as cancelled",
            "let CancelledError propagate out of the worker; do not turn it into a return",
        )
    finally:
        await clean_up([], before)
    return "survives a failing job and stops promptly when cancelled mid-job"
