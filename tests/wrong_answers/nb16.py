"""Wrong answers for notebook 16 · Testing async code."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from helpers.checks import nb16

from . import Wrong

# ------------------------------------------------------------------ test_retry


def failing(times, error=ConnectionError):
    """An operation that raises `error` for its first `times` calls, then returns "ok"; and its calls."""
    calls = []

    async def operation():
        calls.append(len(calls) + 1)
        if len(calls) <= times:
            raise error("try again")
        return "ok"

    return operation, calls


async def never_awaited(retry):
    """The notebook's mistake: `assert retry(...)` checks a coroutine object, always true."""
    operation, _ = failing(5)
    assert retry(operation, attempts=3)


async def happy_path_only(retry):
    """Success after two failures, with a fake sleep; never the case where every attempt fails."""
    delays = []

    async def fake_sleep(seconds):
        delays.append(seconds)

    operation, calls = failing(2)
    assert await retry(operation, attempts=3, base_delay=1.0, sleep=fake_sleep) == "ok"
    assert len(calls) == 3


async def raises_without_counting(retry):
    """Checks that the errors come out, but not how many calls or waits it took."""

    async def fake_sleep(seconds):
        pass

    operation, _ = failing(2)
    assert await retry(operation, attempts=3, sleep=fake_sleep) == "ok"
    with pytest.raises(ConnectionError):
        await retry(failing(5)[0], attempts=3, sleep=fake_sleep)
    with pytest.raises(ValueError):
        await retry(failing(5, ValueError)[0], attempts=3, sleep=fake_sleep)


async def tiny_real_sleeps(retry):
    """Counts calls and errors, but lets the backoff really sleep (a tiny base_delay) and never looks at it."""
    operation, calls = failing(2)
    assert await retry(operation, attempts=3, base_delay=0.001) == "ok"
    assert len(calls) == 3
    operation, calls = failing(5)
    with pytest.raises(ConnectionError):
        await retry(operation, attempts=3, base_delay=0.001)
    assert len(calls) == 3
    operation, calls = failing(5, ValueError)
    with pytest.raises(ValueError):
        await retry(operation, attempts=3, base_delay=0.001)
    assert len(calls) == 1


async def slow_real_backoff(retry):
    """A good test, but with the real sleep and base_delay=1.0: three seconds per run."""
    operation, calls = failing(2)
    assert await retry(operation, attempts=3, base_delay=1.0) == "ok"
    assert len(calls) == 3


def not_async(retry):
    """A plain function: it cannot await retry at all."""
    assert retry is not None


# ------------------------------------------------------------------ no_leaked_tasks


@contextlib.asynccontextmanager
async def reports_but_does_not_cancel():
    """Names the leaked tasks and fails, but leaves them running into the next test."""
    before = asyncio.all_tasks()
    yield
    leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
    assert not leaked, f"leaked: {[t.get_name() for t in leaked]}"


@contextlib.asynccontextmanager
async def counts_tasks():
    """Compares the number of tasks: one that finished and one that leaked cancel out."""
    before = len(asyncio.all_tasks())
    yield
    assert len(asyncio.all_tasks()) <= before, "tasks leaked"


@contextlib.asynccontextmanager
async def no_snapshot():
    """Blames every task but its own, also those that were running before the block."""
    yield
    leaked = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in leaked:
        task.cancel()
    await asyncio.gather(*leaked, return_exceptions=True)
    assert not leaked, f"leaked: {[t.get_name() for t in leaked]}"


@contextlib.asynccontextmanager
async def cancels_without_awaiting():
    """Cancels the leaked tasks but does not wait for them: their cleanup runs later."""
    before = asyncio.all_tasks()
    yield
    leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
    for task in leaked:
        task.cancel()
    assert not leaked, f"leaked: {[t.get_name() for t in leaked]}"


@contextlib.asynccontextmanager
async def cleanup_skipped_when_the_block_raises():
    """The cleanup after `yield` is not in a `finally`: a block that raises leaves its tasks running."""
    before = asyncio.all_tasks()
    yield
    leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
    for task in leaked:
        task.cancel()
    await asyncio.gather(*leaked, return_exceptions=True)
    assert not leaked, f"leaked: {[t.get_name() for t in leaked]}"


@contextlib.asynccontextmanager
async def masks_the_blocks_error():
    """Reports the leak from `finally`, so the block's own ValueError is replaced by an AssertionError."""
    before = asyncio.all_tasks()
    try:
        yield
    finally:
        leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
        for task in leaked:
            task.cancel()
        await asyncio.gather(*leaked, return_exceptions=True)
        assert not leaked, f"leaked: {[t.get_name() for t in leaked]}"


@contextlib.asynccontextmanager
async def unnamed_failure():
    """Cancels, awaits and fails, but the message does not say which task leaked."""
    before = asyncio.all_tasks()
    try:
        yield
    finally:
        leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
        for task in leaked:
            task.cancel()
        await asyncio.gather(*leaked, return_exceptions=True)
    assert not leaked, f"{len(leaked)} task(s) leaked"


WRONG = [
    Wrong("test_retry", "assert on a coroutine never awaited", never_awaited, r"never awaited"),
    Wrong("test_retry", "happy path only", happy_path_only, r"returns None when every attempt fails"),
    Wrong("test_retry", "errors checked, calls not counted", raises_without_counting, r"count the calls"),
    Wrong(
        "test_retry",
        "real tiny sleeps, delays never checked",
        tiny_real_sleeps,
        r"without backoff[\s\S]*record the delays",
    ),
    Wrong("test_retry", "real sleep with base_delay 1", slow_real_backoff, r"fake sleep"),
    Wrong("test_retry", "not an async test", not_async, r"async def"),
    Wrong(
        "no_leaked_tasks",
        "reports but does not cancel",
        reports_but_does_not_cancel,
        r"still running[\s\S]*cancel",
    ),
    Wrong("no_leaked_tasks", "compares counts", counts_tasks, r"sets of tasks, not their numbers"),
    Wrong("no_leaked_tasks", "no snapshot", no_snapshot, r"snapshot"),
    Wrong("no_leaked_tasks", "cancels without awaiting", cancels_without_awaiting, r"not awaited"),
    Wrong(
        "no_leaked_tasks",
        "cleanup skipped when the block raises",
        cleanup_skipped_when_the_block_raises,
        r"try: yield.*finally",
    ),
    Wrong(
        "no_leaked_tasks",
        "masks the block's error",
        masks_the_blocks_error,
        r"let the block's own error through",
    ),
    Wrong("no_leaked_tasks", "message without the task's name", unnamed_failure, r"names? .*leaked task"),
]

CHECKS = {
    "test_retry": lambda answer, lab: nb16.check_test_retry(answer),
    "no_leaked_tasks": lambda answer, lab: nb16.check_no_leaked_tasks(answer),
}
