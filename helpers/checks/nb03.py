"""Checks for notebook 03 · Tasks and futures.

    from helpers.checks import nb03
    await nb03.check_call_async(call_async)
    await nb03.check_first_successful(first_successful)

Each check drives the learner's function with coroutines that write down what happened to them
("started", "finished", "failed", "cancelled") in a ``finally``-safe way, so a check can tell a loser
that was really cancelled *and awaited* from one that was merely asked to stop, and it cleans up
whatever the learner's code left running, so no task outlives the cell.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from helpers.checks import exercise, expect, leaf_exceptions, tasks_alive_since
from helpers.checks.scenarios import attempt, clean_up

__all__ = ["check_call_async", "check_first_successful"]


class _Suspensions:
    """Await ``awaitable`` as a Task would, counting how often it suspends (``count``).

    Every value it yields (a Future, or None for a bare yield) goes up to the Task unchanged, and
    whatever the Task sends or throws back goes down to it: only the counting is added.
    """

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self.awaitable, self.count = awaitable, 0

    def __await__(self) -> Generator[Any, Any, Any]:
        inner = self.awaitable.__await__()
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                if thrown is not None:
                    error, thrown = thrown, None
                    step = inner.throw(error)
                else:
                    step = inner.send(sent)
            except StopIteration as finished:
                return finished.value
            self.count += 1
            sent = None
            try:
                sent = yield step
            except BaseException as exc:  # noqa: BLE001 - a cancellation thrown in by the Task: pass it on
                thrown = exc


@exercise("call_async", timeout=10)
async def check_call_async(call_async: Callable[..., Awaitable[Any]]) -> str:
    loop = asyncio.get_running_loop()
    calls: list[str] = []

    def shout(word: str, callback: Callable[[str], None]) -> asyncio.TimerHandle:
        """A callback-style API: calls ``callback(word.upper())`` about 20 ms later."""
        calls.append(word)
        return loop.call_later(0.02, callback, word.upper())

    waiting = call_async(shout, "ping")
    expect(
        inspect.isawaitable(waiting),
        f"call_async(...) returned {type(waiting).__name__}, not something to await",
        "define it with `async def call_async(api, *args):` and return the value after awaiting a future",
    )
    try:
        value = await waiting
    except asyncio.InvalidStateError as exc:
        expect(
            False,
            f"call_async raised InvalidStateError: {exc}",
            "the future had no result yet: fut.result() does not wait for one; `return await fut` does",
        )
        raise
    except RuntimeError as exc:
        expect(
            "running" not in str(exc),
            f"call_async raised RuntimeError: {exc}",
            "this code already runs inside the event loop: instead of loop.run_until_complete(fut) "
            "(or asyncio.run), `return await fut`",
        )
        raise
    expect(
        calls == ["ping"],
        f"the API was called {len(calls)} times with {calls!r}",
        "call `api(*args, callback)` exactly once, with the arguments you were given",
    )
    expect(
        value == "PING",
        f"call_async(shout, 'ping') returned {value!r}, expected 'PING'",
        "create `fut = loop.create_future()`, let the callback do `fut.set_result(value)`, and `return await fut`",
    )

    # Awaiting a future suspends the caller once, until the callback completes it; code that polls
    # for the answer instead wakes up again and again. Counted, so the machine's speed does not matter.
    def later_shout(word: str, callback: Callable[[str], None]) -> asyncio.TimerHandle:
        return loop.call_later(0.2, callback, word.upper())

    counted = _Suspensions(call_async(later_shout, "pong"))
    value = await counted
    expect(
        value == "PONG" and counted.count <= 2,
        f"while waiting 0.2 s for one answer, call_async woke up {counted.count} times (and returned {value!r})",
        "that is polling: instead of checking again and again whether the answer has come, await a future "
        "that the callback completes (`fut.set_result(value)`); it wakes you exactly once",
    )

    # The caller gives up before the API answers: the answer still comes, later, to a cancelled future.
    def slow_shout(word: str, callback: Callable[[str], None]) -> asyncio.TimerHandle:
        return loop.call_later(0.4, callback, word.upper())

    reports: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    try:
        try:
            async with asyncio.timeout(0.03):
                await call_async(slow_shout, "late")
            timed_out = False
        except TimeoutError:
            timed_out = True
        await asyncio.sleep(0.5)  # well past the moment the API calls back
    finally:
        loop.set_exception_handler(previous)
    expect(
        timed_out,
        "a 0.4 s call inside asyncio.timeout(0.03) finished without a TimeoutError",
        "await the future itself inside call_async, so that a timeout can cancel the wait",
    )
    problems = [repr(r.get("exception") or r.get("message")) for r in reports]
    expect(
        not problems,
        f"after the timeout, the late callback failed with {problems[0] if problems else ''}",
        "the future was already cancelled when the answer came: in the callback, call "
        "`fut.set_result(value)` only `if not fut.done()` (or cancel the API's handle in a `finally`)",
    )
    return "returns the API's answer, and an answer arriving after a timeout is dropped quietly"


@exercise("first_successful", timeout=20)
async def check_first_successful(first_successful: Callable[[list[Any]], Awaitable[Any]]) -> str:
    before = asyncio.all_tasks()
    log: dict[str, str] = {}
    # Listed so that neither the first in the list nor the first to finish is the right answer.
    plan = [
        ("slow", 0.6, "slow answer"),
        ("broken", 0.01, ValueError("broken failed")),
        ("fast", 0.1, "fast answer"),
        ("stuck", 60, "never"),
    ]
    coros = [attempt(log, *step) for step in plan]
    try:
        try:
            async with asyncio.timeout(3):
                result = await first_successful(coros)
        except TimeoutError:
            expect(
                False,
                "no answer after 3 s, although 'fast' succeeds after 0.1 s",
                "return as soon as one attempt succeeds (asyncio.as_completed, or asyncio.wait with "
                "return_when=FIRST_COMPLETED in a loop) instead of waiting for all of them",
            )
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the learner below
            expect(
                False,
                f"raised {type(exc).__name__}: {exc}, although 'fast' succeeds",
                "a failed attempt is not the end: keep its exception and wait for the next one to finish",
            )
        expect(
            result == "fast answer",
            f"returned {result!r}, expected 'fast answer' (the first success to arrive)",
            "return the result of the first attempt that *finishes* without raising, not the first in the list",
        )
        never = [name for name, *_ in plan if name not in log]
        expect(
            not never,
            f"these coroutines never started: {never}",
            "wrap every coroutine in a task first (asyncio.create_task), so they all run at once",
        )
        # Looked at before anything else runs: a task asked to stop but not awaited has a cancel
        # request pending (Task.cancelling()) and has not yet seen its CancelledError.
        left = tasks_alive_since(before)
        running = sorted(name for name in ("slow", "stuck") if log.get(name) == "started")
        expect(
            not any(task.cancelling() for task in left),
            f"the losers {running} were cancelled but not awaited: still running when first_successful returned",
            "task.cancel() only asks; await the cancelled tasks too "
            "(asyncio.gather(*tasks, return_exceptions=True)) so their cleanup finishes before you return",
        )
        expect(
            not left,
            f"the losers {running} were never cancelled: still running after first_successful returned",
            "cancel the tasks that are still running, then await them "
            "(asyncio.gather(*tasks, return_exceptions=True)); a `finally` block is a good place",
        )
        losers = {name: log[name] for name in ("slow", "stuck")}
        expect(
            all(state == "cancelled" for state in losers.values()),
            f"the losers ended as {losers}, expected both 'cancelled'",
            "cancel the tasks that are still running, then await them "
            "(asyncio.gather(*tasks, return_exceptions=True)) so their cleanup finishes before you return",
        )
    finally:
        await clean_up(coros, before)

    log = {}
    errors = [ValueError("a failed"), KeyError("b"), OSError("c failed")]
    coros = [
        attempt(log, name, seconds, exc)
        for name, seconds, exc in zip("abc", (0.03, 0.01, 0.02), errors, strict=True)
    ]
    try:
        try:
            outcome = await first_successful(coros)
        except NotImplementedError:
            raise
        except BaseExceptionGroup as group:
            found = leaf_exceptions(group)
        except Exception as exc:  # noqa: BLE001 - reported to the learner below
            expect(
                False,
                f"when every attempt failed it raised {type(exc).__name__}: {exc}",
                "collect the exceptions and raise ExceptionGroup('every attempt failed', errors) at the end",
            )
        else:
            expect(
                False,
                f"returned {outcome!r} although every attempt failed",
                "when no attempt succeeds, raise ExceptionGroup('every attempt failed', errors)",
            )
        expect(
            sorted(map(id, found)) == sorted(map(id, errors)),
            f"the ExceptionGroup holds {[type(e).__name__ for e in found]}, expected the three attempts' errors",
            "put each attempt's own exception into the group, once",
        )
        expect(
            not tasks_alive_since(before),
            "tasks were still running after the ExceptionGroup was raised",
            "await every task before raising",
        )
    finally:
        await clean_up(coros, before)
    return "first success returned, losers cancelled and awaited, ExceptionGroup when all fail"
