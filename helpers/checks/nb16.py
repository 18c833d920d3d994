"""Checks for notebook 16 · Testing async code.

    from helpers.checks import nb16
    await nb16.check_test_retry(test_retry)
    await nb16.check_no_leaked_tasks(no_leaked_tasks)

``check_test_retry`` is mutation testing: the learner's test must pass against the correct ``retry``
of the notebook and fail against each of several broken copies, each with one classic retry bug.
``check_no_leaked_tasks`` runs blocks that leak a task, that leak nothing while another task finishes,
and that raise, and looks at what the learner's context manager reported and at the tasks afterwards.
Whatever the learner's code leaves running is cancelled and awaited before a check ends.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from helpers.checks import being_cancelled, exercise, expect, stop_stray_tasks

__all__ = ["check_test_retry", "check_no_leaked_tasks", "retry"]

Operation = Callable[[], Awaitable[Any]]
Sleep = Callable[[float], Awaitable[Any]]

# ------------------------------------------------------------------ test_retry: the code under test


async def retry(
    operation: Operation, *, attempts: int = 3, base_delay: float = 1.0, sleep: Sleep = asyncio.sleep
) -> Any:
    """The notebook's correct retry: ConnectionError only, delays base, 2×, 4× …, the last error re-raised."""
    for attempt in range(attempts):
        try:
            return await operation()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            await sleep(base_delay * 2**attempt)


async def _returns_none(
    operation: Operation, *, attempts: int = 3, base_delay: float = 1.0, sleep: Sleep = asyncio.sleep
) -> Any:
    for attempt in range(attempts):
        try:
            return await operation()
        except ConnectionError:
            if attempt < attempts - 1:
                await sleep(base_delay * 2**attempt)
    return None  # every attempt failed ... and the caller gets None


async def _one_attempt_too_many(
    operation: Operation, *, attempts: int = 3, base_delay: float = 1.0, sleep: Sleep = asyncio.sleep
) -> Any:
    for attempt in range(attempts + 1):
        try:
            return await operation()
        except ConnectionError:
            if attempt == attempts:
                raise
            await sleep(base_delay * 2**attempt)


async def _retries_everything(
    operation: Operation, *, attempts: int = 3, base_delay: float = 1.0, sleep: Sleep = asyncio.sleep
) -> Any:
    for attempt in range(attempts):
        try:
            return await operation()
        except Exception:
            if attempt == attempts - 1:
                raise
            await sleep(base_delay * 2**attempt)


async def _no_backoff(
    operation: Operation, *, attempts: int = 3, base_delay: float = 1.0, sleep: Sleep = asyncio.sleep
) -> Any:
    for attempt in range(attempts):
        try:
            return await operation()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            await sleep(base_delay)


async def _sleeps_after_the_last(
    operation: Operation, *, attempts: int = 3, base_delay: float = 1.0, sleep: Sleep = asyncio.sleep
) -> Any:
    for attempt in range(attempts):
        try:
            return await operation()
        except ConnectionError:
            await sleep(base_delay * 2**attempt)
            if attempt == attempts - 1:
                raise


async def _ignores_sleep(
    operation: Operation, *, attempts: int = 3, base_delay: float = 1.0, sleep: Sleep = asyncio.sleep
) -> Any:
    for attempt in range(attempts):
        try:
            return await operation()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(base_delay * 2**attempt)  # the real one, whatever the caller passed


# (broken retry, what is wrong with it, what a test must do to notice) in the order they are reported
MUTANTS: list[tuple[Callable[..., Awaitable[Any]], str, str]] = [
    (
        _returns_none,
        "a retry that returns None when every attempt fails",
        "test the case where every attempt fails: the last ConnectionError must come out "
        "(`with pytest.raises(ConnectionError): await retry(...)`), not a None",
    ),
    (
        _one_attempt_too_many,
        "a retry that makes one attempt too many",
        "count the calls: with attempts=3 and an operation that always fails, it must be called exactly 3 times",
    ),
    (
        _retries_everything,
        "a retry that retries every exception, not only ConnectionError",
        "check that another error (a ValueError) comes out at once: one call, no sleep",
    ),
    (
        _no_backoff,
        "a retry without backoff (it waits base_delay every time)",
        "record the delays your fake sleep is asked for and compare them: base_delay, then 2×, 4× …",
    ),
    (
        _sleeps_after_the_last,
        "a retry that sleeps after the last attempt too",
        "assert the exact list of delays: 3 attempts that all fail make 2 waits, none after the last",
    ),
    (
        _ignores_sleep,
        "a retry that ignores its `sleep` argument and really sleeps",
        "pass a fake sleep that records its delays (sleep=fake_sleep) and assert what it was asked",
    ),
]

CORRECT_LIMIT = 2.0  # s: the learner's tests against the correct retry; a fake sleep makes them instant
MUTANT_LIMIT = 0.3  # s: a test still running against a mutant counts as failing (as pytest-timeout would)
NEVER_AWAITED_HINT = (
    "a coroutine was never awaited: `assert retry(...)` tests a coroutine object, which is always true — "
    "write `assert await retry(...) == ...`"
)


async def _run_test(test: Callable[[Any], Awaitable[Any]], impl: Any, limit: float) -> tuple[str, str]:
    """('passed' | 'failed' | 'hung', what went wrong), the learner's test run in a task of its own."""
    before = asyncio.all_tasks()
    try:
        async with asyncio.timeout(limit) as deadline:
            await asyncio.ensure_future(test(impl))
        return "passed", ""
    except NotImplementedError:
        raise  # the stub: "not written yet"
    except (KeyboardInterrupt, SystemExit):
        raise
    except asyncio.CancelledError:
        if being_cancelled():
            raise
        return "failed", "CancelledError"
    except TimeoutError as exc:
        if deadline.expired():
            return "hung", f"still running after {limit:g} s"
        return "failed", f"TimeoutError: {exc}"
    except BaseException as exc:  # noqa: BLE001 - pytest.raises fails with Failed, a BaseException
        return "failed", f"{type(exc).__name__}: {exc}".strip()
    finally:
        await stop_stray_tasks(before)


@exercise("test_retry", timeout=30)
async def check_test_retry(test_retry: Callable[[Any], Awaitable[Any]]) -> str:
    expect(
        inspect.iscoroutinefunction(test_retry),
        "test_retry is not an `async def` function",
        "write `async def test_retry(retry):` and await `retry(...)` inside it",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verdict, why = await _run_test(test_retry, retry, CORRECT_LIMIT)
        gc.collect()  # a coroutine that was never awaited warns when it is collected
    never_awaited = any("was never awaited" in str(w.message) for w in caught)
    expect(not never_awaited, "your test created a coroutine and never awaited it", NEVER_AWAITED_HINT)
    expect(
        verdict != "hung",
        f"your test took more than {CORRECT_LIMIT:g} s against the correct retry",
        "the backoff really slept: pass a fake sleep (`sleep=fake_sleep`, an async function that only records "
        "its argument) so that the test costs no time",
    )
    expect(
        verdict == "passed",
        f"your test fails against the correct retry: {why[:200]}",
        "a test must pass for correct code: compare with the docstring of `retry` (ConnectionError only; "
        "delays base_delay, 2×, 4×; the last error re-raised; no wait after the last attempt)",
    )
    survivors = []
    for mutant, what, hint in MUTANTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome, _ = await _run_test(test_retry, mutant, MUTANT_LIMIT)
        if outcome == "passed":
            survivors.append((what, hint))
    expect(
        not survivors,
        f"your test passes against {len(survivors)} of {len(MUTANTS)} broken retries, e.g. "
        f"{survivors[0][0] if survivors else ''}",
        survivors[0][1] if survivors else "",
    )
    return f"passes against the correct retry and catches all {len(MUTANTS)} broken ones"


# ------------------------------------------------------------------ no_leaked_tasks


async def _forever(log: list[str], name: str) -> None:
    try:
        await asyncio.sleep(3600)
    finally:
        log.append(f"{name} cleaned up")


def _is_failure(exc: BaseException | None) -> bool:
    # A failing test: AssertionError, or pytest.fail()'s exception (a BaseException, like the check's own).
    return exc is not None and (isinstance(exc, AssertionError) or type(exc).__name__ == "Failed")


async def _run_block(
    no_leaked_tasks: Callable[[], Any], body: Callable[[], Awaitable[None]]
) -> BaseException | None:
    """Run ``body`` inside ``async with no_leaked_tasks()`` in this task; the exception that came out."""
    manager = no_leaked_tasks()
    gen = getattr(manager, "gen", None)
    if inspect.iscoroutine(gen):  # @asynccontextmanager on a function without `yield` (or the stub)
        await gen  # the stub raises NotImplementedError here: "not written yet"
        expect(False, "no_leaked_tasks has no `yield`", "yield once where the block runs, inside try/finally")
    expect(
        hasattr(manager, "__aenter__") and hasattr(manager, "__aexit__"),
        f"no_leaked_tasks() returned {type(manager).__name__}, not an async context manager",
        "decorate an async generator with @contextlib.asynccontextmanager, or write __aenter__/__aexit__",
    )
    try:
        async with manager:
            await body()
    except (KeyboardInterrupt, SystemExit):
        raise
    except asyncio.CancelledError:
        if being_cancelled():
            raise
        return asyncio.CancelledError()
    except BaseException as exc:  # noqa: BLE001 - the learner's verdict, judged by the caller
        return exc
    return None


@exercise("no_leaked_tasks", timeout=20)
async def check_no_leaked_tasks(no_leaked_tasks: Callable[[], Any]) -> str:
    before = asyncio.all_tasks()
    log: list[str] = []
    bystander = asyncio.create_task(_forever(log, "bystander"), name="bystander")  # started before any block
    try:
        await asyncio.sleep(0)
        await _judge_clean_block(no_leaked_tasks)
        await _judge_leaky_block(no_leaked_tasks, log)
        await _judge_raising_block(no_leaked_tasks, log)
        expect(
            not bystander.done(),
            "a task started before the block was cancelled",
            "only tasks created inside the block are the test's: snapshot asyncio.all_tasks() when it starts",
        )
    finally:
        bystander.cancel()
        await stop_stray_tasks(before)
    return "names and fails a leaked task, cancels and awaits it, and lets the block's own error through"


SNAPSHOT_HINT = (
    "take a snapshot `before = asyncio.all_tasks()` when the block starts, and report only "
    "`asyncio.all_tasks() - before` that are not done: tasks that were running before are not the test's"
)


async def _judge_clean_block(no_leaked_tasks: Callable[[], Any]) -> None:
    async def clean() -> None:
        await asyncio.create_task(asyncio.sleep(0.01), name="awaited")  # created, finished, awaited

    exc = await _run_block(no_leaked_tasks, clean)
    expect(
        exc is None,
        f"a block that awaited its only task came out with {type(exc).__name__}: {exc}",
        SNAPSHOT_HINT,
    )


async def _judge_leaky_block(no_leaked_tasks: Callable[[], Any], log: list[str]) -> None:
    finishing = asyncio.create_task(asyncio.sleep(0.02), name="finishing")  # ends while the block runs
    await asyncio.sleep(0)
    tasks: list[asyncio.Task[None]] = []

    async def leaky() -> None:
        tasks.append(asyncio.create_task(_forever(log, "heartbeat"), name="heartbeat"))
        await asyncio.sleep(0.05)

    exc = await _run_block(no_leaked_tasks, leaky)
    heartbeat = tasks[0]
    done_at_exit = heartbeat.done()  # looked at before this task awaits anything
    cancel_requested = heartbeat.cancelling() > 0 or heartbeat.cancelled()
    await asyncio.gather(finishing, return_exceptions=True)
    expect(
        exc is not None,
        "a block that left a task running (while another task finished) passed",
        "compare the sets of tasks, not their numbers: one task that ended and one that was left running "
        "keep len(asyncio.all_tasks()) the same",
    )
    expect(
        _is_failure(exc),
        f"a leaked task made the block raise {type(exc).__name__}, not a failed assertion",
        "fail the test like any assertion does: `assert not leaked, ...` (or pytest.fail)",
    )
    expect(
        "heartbeat" in str(exc),
        f"the failure does not name the leaked task: {str(exc)[:120]!r}",
        "put the names of the leaked tasks (task.get_name()) in the message, so the reader knows what leaked",
    )
    expect(
        done_at_exit,
        "the leaked task was "
        + ("cancelled but not awaited" if cancel_requested else "still running")
        + " when the block ended",
        "cancel each leaked task and await them all (asyncio.gather(*leaked, return_exceptions=True)) before "
        "failing: a task only asked to stop still runs its cleanup later, during the next test"
        if cancel_requested
        else "cancel what leaked and await it (asyncio.gather(*leaked, return_exceptions=True)): left running, "
        "it goes on into the next test",
    )
    expect(
        "heartbeat cleaned up" in log,
        "the leaked task was stopped without its cleanup running",
        "cancel it (task.cancel()) and await it, so its `finally` runs",
    )


async def _judge_raising_block(no_leaked_tasks: Callable[[], Any], log: list[str]) -> None:
    tasks: list[asyncio.Task[None]] = []
    boom = ValueError("the test's own failure")

    async def raising() -> None:
        tasks.append(asyncio.create_task(_forever(log, "poller"), name="poller"))
        await asyncio.sleep(0.01)
        raise boom

    exc = await _run_block(no_leaked_tasks, raising)
    poller = tasks[0]
    done_at_exit = poller.done()
    expect(
        exc is boom,
        f"a block that raised ValueError came out with {type(exc).__name__}: {str(exc)[:100]}"
        if exc is not None
        else "a block that raised ValueError came out with no error at all",
        "let the block's own error through: it is the real failure — report leaks only when the block "
        "succeeded (and never return True from __aexit__, which swallows it)",
    )
    expect(
        done_at_exit,
        "when the block raised, the task it leaked was left running",
        "code after `yield` does not run when the block raises: put the cleanup in `try: yield` … `finally:`",
    )
