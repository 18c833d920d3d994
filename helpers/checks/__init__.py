"""Exercise checks: one ✓ line on success, a ``CheckFailed`` with a hint a learner can act on.

    from helpers.checks import exercise, expect

    @exercise("first_successful")
    async def check_first_successful(first_successful) -> str:
        result = await first_successful([...])
        expect(result == "b", f"returned {result!r}", "return the first result that did not raise")
        return "returns the first good result"

    await check_first_successful(first_successful)   # prints "✓ first_successful: returns …"

Each notebook's checks live in ``helpers/checks/nbNN.py``. Contract: a check never passes the
learner stub (``stub_of`` of its solution cell) — strict nbval proves that for every (tests/stub_checks.py)
exercise — and every failure names what went wrong and what to try. With ``LAB_CLASS`` set, each
outcome is also recorded for the instructor's progress board (``helpers.progress``), silently.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from helpers import progress
from helpers.tasks import alive_since as tasks_alive_since  # tasks a check's learner code left running

__all__ = [
    "CheckFailed",
    "expect",
    "exercise",
    "passed",
    "stub_of",
    "tasks_alive_since",
    "stop_stray_tasks",
    "being_cancelled",
    "in_own_task",
    "outcome",
    "Hung",
    "leaf_exceptions",
    "raise_if_stub",
    "SOLUTION_BEGIN",
    "SOLUTION_END",
]

SOLUTION_BEGIN = "# BEGIN SOLUTION"
SOLUTION_END = "# END SOLUTION"
STUB_BEGIN = "# BEGIN STUB"
STUB_END = "# END STUB"
STUB_HINT = "the solution cell still holds the stub: write your code in place of `raise NotImplementedError`"

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class CheckFailed(AssertionError):
    """An exercise check did not pass; ``hint`` says what to try next."""

    def __init__(self, exercise: str, problem: str, hint: str) -> None:
        self.exercise, self.problem, self.hint = exercise, problem, hint
        super().__init__(f"✗ {exercise}: {problem}\n  hint: {hint}")


class _Mismatch(Exception):
    """Raised by ``expect`` inside a check; ``exercise`` turns it into CheckFailed with the title."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem, self.hint = problem, hint


def expect(condition: object, problem: str, hint: str) -> None:
    """Fail the running check with ``problem`` (what was seen) and ``hint`` (what to do) unless true."""
    if not condition:
        raise _Mismatch(problem, hint)


def passed(message: str) -> None:
    print(f"✓ {message}")


def exercise(title: str, *, timeout: float | None = 30.0) -> Callable[[F], F]:
    """Decorate a check function (sync or async) that returns a one-line summary of what it proved.

    Learner mistakes become ``CheckFailed``: a failed ``expect``, the untouched stub
    (NotImplementedError), any exception from the learner's code, or — for async checks — taking
    longer than ``timeout`` seconds (a forgotten ``await`` or a deadlock should not hang a class).
    """

    def decorate(check: F) -> F:
        if inspect.iscoroutinefunction(check):

            @functools.wraps(check)
            async def run_async(*args: Any, **kwargs: Any) -> None:
                try:
                    async with asyncio.timeout(timeout):
                        summary = await check(*args, **kwargs)
                except BaseException as exc:  # noqa: BLE001 - each kind is translated below
                    _translate_and_record(check, title, exc, timeout)
                passed(f"{title}: {summary}")
                progress.record(check, passed=True)

            return run_async  # type: ignore[return-value]

        @functools.wraps(check)
        def run_sync(*args: Any, **kwargs: Any) -> None:
            try:
                summary = check(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001
                _translate_and_record(check, title, exc, timeout)
            passed(f"{title}: {summary}")
            progress.record(check, passed=True)

        return run_sync  # type: ignore[return-value]

    return decorate


def _translate_and_record(
    check: Callable[..., Any], title: str, exc: BaseException, timeout: float | None
) -> None:
    """``_translate``; a learner's mistake (CheckFailed) is also recorded for the class's progress board
    when ``LAB_CLASS`` is set (``helpers.progress``: silent, at most half a second, never raises)."""
    try:
        _translate(title, exc, timeout)
    except CheckFailed:
        progress.record(check, passed=False)
        raise


def _translate(title: str, exc: BaseException, timeout: float | None) -> None:
    # Keep Ctrl-C and a cancelled cell working as usual: only learner mistakes become CheckFailed.
    if isinstance(exc, (KeyboardInterrupt, SystemExit, CheckFailed)):
        raise exc
    if isinstance(exc, asyncio.CancelledError):
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise exc  # someone cancelled the check itself: let it stop
        raise CheckFailed(
            title,
            "your code was cancelled",
            "a CancelledError escaped: did you cancel a task you then awaited?",
        ) from None
    if isinstance(exc, _Mismatch):
        raise CheckFailed(title, exc.problem, exc.hint) from None
    if isinstance(exc, NotImplementedError):
        raise CheckFailed(title, "not written yet", STUB_HINT) from None
    if isinstance(exc, TimeoutError):
        raise CheckFailed(
            title,
            f"did not finish within {timeout} s",
            "look for a missing `await`, a task never awaited, or a queue nobody empties",
        ) from None
    raise CheckFailed(
        title,
        f"your code raised {type(exc).__name__}: {exc}",
        "read the traceback above this message; run your function alone in a cell to see the error",
    ) from exc


def being_cancelled() -> bool:
    """True when the running task itself has a cancel request pending.

    A check that catches ``CancelledError`` from learner code asks this first: if it is true, the
    check itself is being cancelled (Ctrl-C, a timeout around it) and must re-raise; otherwise the
    learner's code let a CancelledError out, which is the learner's mistake to report.
    """
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


async def in_own_task(awaitable: Awaitable[T]) -> T:
    """Await learner code in a task of its own; cancelling the caller cancels that task too.

    Why: a TaskGroup whose child fails leaves one cancel request on the task that ran it (seen on
    3.11 and 3.12.1, not on 3.13), and up to 3.11.2 (Debian 12's python3) that request stops every later
    ``asyncio.timeout()`` in the same task from turning its cancellation into TimeoutError. A check
    that runs learner code several times in one task would then fail for a reason not the learner's.
    """
    return await asyncio.ensure_future(awaitable)


class Hung(Exception):
    """The learner's call did not finish within the check's own time limit (see ``outcome``)."""


def leaf_exceptions(exc: BaseException) -> list[BaseException]:
    """The leaf exceptions of a (possibly nested) exception group, or ``[exc]``."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaf_exceptions(inner)]
    return [exc]


def raise_if_stub(exc: BaseException) -> None:
    """The untouched stub raises NotImplementedError, maybe inside a TaskGroup's exception group:
    raise a bare one, which ``@exercise`` reports as "not written yet"."""
    leaves = leaf_exceptions(exc)
    if leaves and all(isinstance(e, NotImplementedError) for e in leaves):
        raise NotImplementedError from None


async def outcome(
    awaitable: Awaitable[Any], *, limit: float | None = None
) -> tuple[Any, BaseException | None]:
    """Run learner code in a task of its own: ``(value, None)``, or ``(None, the exception)``.

    The untouched stub is re-raised as NotImplementedError; cancellation from outside passes through.
    With ``limit``, a call still running after ``limit`` seconds is cancelled and reported as ``Hung``.
    """
    try:
        if limit is None:
            return await in_own_task(awaitable), None
        async with asyncio.timeout(limit) as deadline:
            return await in_own_task(awaitable), None
    except TimeoutError as exc:
        if limit is not None and deadline.expired():
            return None, Hung(f"no answer within {limit:g} s")
        return None, exc
    except Exception as exc:  # noqa: BLE001 - sorted by the caller
        raise_if_stub(exc)
        return None, exc


async def stop_stray_tasks(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Cancel and await what is still running since ``before``, so nothing outlives the check's cell."""
    await asyncio.sleep(0)  # let tasks that are finishing right now finish
    stray = tasks_alive_since(before)
    for task in stray:
        task.cancel()
    await asyncio.gather(*stray, return_exceptions=True)
    return stray


def stub_of(source: str) -> str:
    """The learner version of a solution cell.

    Every ``# BEGIN SOLUTION`` … ``# END SOLUTION`` block is removed. If a ``# BEGIN STUB`` …
    ``# END STUB`` block of commented-out lines stands right before it, those lines are
    uncommented and take its place (for "fix this code" exercises); otherwise the block becomes
    ``raise NotImplementedError`` at the block's indentation.
    """
    out: list[str] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = line.strip()
        if marker == STUB_BEGIN:
            stub, i = _take_block(lines, i, STUB_END)
            out.extend(_uncomment(stub))
            _, i = _take_block(lines, _expect_marker(lines, i, SOLUTION_BEGIN), SOLUTION_END)
            continue
        if marker == SOLUTION_BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            _, i = _take_block(lines, i, SOLUTION_END)
            out.append(f'{indent}raise NotImplementedError("your code here")')
            continue
        out.append(line)
        i += 1
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def _take_block(lines: list[str], start: int, end_marker: str) -> tuple[list[str], int]:
    """Lines strictly between ``lines[start]`` and the next ``end_marker``; index after it."""
    for j in range(start + 1, len(lines)):
        if lines[j].strip() == end_marker:
            return lines[start + 1 : j], j + 1
    raise ValueError(f"{lines[start].strip()!r} on line {start + 1} has no matching {end_marker!r}")


def _expect_marker(lines: list[str], i: int, marker: str) -> int:
    if i < len(lines) and lines[i].strip() == marker:
        return i
    raise ValueError(f"{STUB_END!r} must be followed directly by {marker!r}")


_COMMENT = re.compile(r"^(\s*)# ?(.*)$")


def _uncomment(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        m = _COMMENT.match(line)
        out.append(f"{m.group(1)}{m.group(2)}" if m else line)
    return out
