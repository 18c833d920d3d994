"""Checks for notebook 13 · Shared state and synchronisation.

    from helpers.checks import nb13
    await nb13.check_single_flight(single_flight)
    await nb13.check_request_log(RequestLog)

The single-flight check hands the learner's wrapper an origin that counts its calls and how many run
at once, so "exactly one origin call" and "different keys at the same time" are counts, not timings.
The request-log check writes lines from concurrent requests, from threads (``asyncio.to_thread``)
and from child tasks, each line naming the request it belongs to, and compares that with the stamp.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from helpers.checks import Hung, exercise, expect, outcome
from helpers.checks.scenarios import InFlight, clean_up

__all__ = ["check_single_flight", "check_request_log", "OriginDown"]

Fetch = Callable[[str], Awaitable[Any]]


class OriginDown(Exception):
    """The origin failed for this key (injected by the check)."""


class Origin:
    """A slow origin: records every call, the peak of calls running at once; fails ``fail_once`` keys once."""

    def __init__(self, seconds: float, fail_once: tuple[str, ...] = ()) -> None:
        self.seconds, self.fail_once = seconds, set(fail_once)
        self.calls: list[str] = []
        self.in_flight = InFlight()

    async def fetch(self, key: str) -> str:
        self.calls.append(key)
        with self.in_flight:
            await asyncio.sleep(self.seconds)
            if key in self.fail_once:
                self.fail_once.discard(key)
                raise OriginDown(f"origin failed for {key!r}")
            return f"value of {key}"


def _expect_no_error(error: BaseException | None, what: str) -> None:
    expect(
        not isinstance(error, Hung),
        f"{what}: {error}",
        "a caller is waiting for something nobody will finish: every caller must end with the value "
        "or the exception of the one fetch",
    )
    expect(
        error is None,
        f"{what} raised {type(error).__name__}: {error}",
        "run your get() alone in a cell to see why",
    )


@exercise("single_flight", timeout=20)
async def check_single_flight(single_flight: Callable[[Fetch], Callable[[str], Awaitable[Any]]]) -> str:
    before = asyncio.all_tasks()
    try:
        origin = Origin(0.1)
        get = single_flight(origin.fetch)
        values, error = await outcome(asyncio.gather(*(get("a") for _ in range(10))), limit=5)
        _expect_no_error(error, "ten concurrent get('a')")
        expect(
            values == ["value of a"] * 10,
            f"ten concurrent get('a') returned {values!r}",
            "every caller should get what the origin returned for its key",
        )
        expect(
            len(origin.calls) == 1,
            f"ten concurrent callers for one key caused {len(origin.calls)} origin calls",
            "check-then-act across an await: each caller checked the cache while the first fetch was still "
            "waiting. Keep the fetch in flight per key (a dict of tasks) and let later callers await that one",
        )
        value, error = await outcome(get("a"), limit=5)
        _expect_no_error(error, "a later get('a')")
        expect(
            value == "value of a" and len(origin.calls) == 1,
            f"a later get('a') returned {value!r} after {len(origin.calls)} origin calls in all",
            "remember each successful result and answer later calls for that key without the origin",
        )
        values, error = await outcome(asyncio.gather(get("x"), get("y"), get("z")), limit=5)
        _expect_no_error(error, "get('x'), get('y'), get('z') together")
        expect(
            values == ["value of x", "value of y", "value of z"],
            f"get('x'), get('y'), get('z') returned {values!r}",
            "every caller should get what the origin returned for its key",
        )
        expect(
            origin.in_flight.peak >= 3,
            f"three different keys requested together: at most {origin.in_flight.peak} origin call(s) ran at once",
            "one lock around the whole lookup serialises different keys; share the fetch per key instead, "
            "and hold no lock while the origin is working",
        )
        await _check_errors(single_flight)
        await _check_a_cancelled_caller(single_flight)
    finally:
        await clean_up([], before)
    return "one origin call per key for concurrent callers, keys in parallel, errors shared and not cached"


async def _check_errors(single_flight: Callable[[Fetch], Callable[[str], Awaitable[Any]]]) -> None:
    origin = Origin(0.1, fail_once=("bad",))
    get = single_flight(origin.fetch)
    results, error = await outcome(
        asyncio.gather(*(get("bad") for _ in range(5)), return_exceptions=True), limit=5
    )
    _expect_no_error(error, "five concurrent get('bad')")
    expect(
        len(origin.calls) == 1,
        f"the origin failed once for 'bad', and five concurrent callers caused {len(origin.calls)} origin calls",
        "when the shared fetch fails, the waiting callers fetched again (what a lock per key does): "
        "share the outcome of the one fetch, its exception included",
    )
    failed = sum(isinstance(r, OriginDown) for r in results)
    expect(
        failed == 5,
        f"the one fetch for 'bad' failed, but only {failed} of five callers got its exception: {results!r}",
        "every caller waiting for a fetch that fails must get its exception (await the shared task)",
    )
    value, error = await outcome(get("bad"), limit=5)
    if not isinstance(error, OriginDown):
        _expect_no_error(error, "get('bad') after the failure")
    expect(
        value == "value of bad" and len(origin.calls) == 2,
        f"after the failure, get('bad') {'raised ' + repr(error) if error else 'returned ' + repr(value)} "
        f"with {len(origin.calls) - 1} new origin calls",
        "you cached the exception (or the failed task): remember only successes, so the next call tries "
        "the origin again",
    )


async def _check_a_cancelled_caller(
    single_flight: Callable[[Fetch], Callable[[str], Awaitable[Any]]],
) -> None:
    origin = Origin(0.5)  # long enough that a busy machine still cancels the first caller mid-fetch
    get = single_flight(origin.fetch)
    first = asyncio.ensure_future(get("k"))
    await asyncio.sleep(0.05)  # the first caller's fetch is under way
    others = asyncio.gather(get("k"), get("k"))
    await asyncio.sleep(0.05)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    values, error = await outcome(others, limit=3)
    expect(
        error is None and values == ["value of k", "value of k"],
        f"the first caller was cancelled while fetching; the other two then got "
        f"{repr(error) if error else repr(values)}",
        "a cancelled caller must not take the shared fetch down with it: run the fetch in a task of its "
        "own and await it through asyncio.shield(task)",
    )


LINE = re.compile(r"^\[(?P<stamp>[^\]]*)\] (?P<message>.*)$")


def _stamps(lines: list[str]) -> list[tuple[str, str]]:
    parsed = [LINE.match(line) for line in lines]
    expect(
        all(parsed),
        f"log lines not shaped like '[req-1] message': {[x for x, p in zip(lines, parsed, strict=True) if not p][:3]}",
        "append f'[{request_id}] {message}' to self.lines for each info() call",
    )
    return [(p["stamp"], p["message"]) for p in parsed if p]


@exercise("request_log", timeout=15)
async def check_request_log(request_log_class: Callable[[], Any]) -> str:
    before = asyncio.all_tasks()
    try:
        log = request_log_class()
        log.info("booting")
        expect(
            _stamps(log.lines) == [("-", "booting")],
            f"outside any request, info('booting') wrote {log.lines!r}",
            "outside any request, stamp the line with '-': lines == ['[-] booting']",
        )
        thread_errors: list[str] = []

        async def child(rid: str) -> None:
            log.info(f"child {rid}")

        async def serve(rid: str, delay: float) -> None:
            with log.request(rid):
                log.info(f"start {rid}")
                await asyncio.sleep(delay)  # the others run meanwhile
                try:
                    await asyncio.to_thread(log.info, f"thread {rid}")
                except Exception as exc:  # noqa: BLE001 - reported below, with a hint
                    thread_errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.create_task(child(rid))
                log.info(f"end {rid}")

        # The first to start finishes first: a saved-and-restored attribute cannot pass by unwinding like a stack.
        requests = [serve(f"req-{i}", 0.03 * (i + 1)) for i in range(3)]
        _, error = await outcome(asyncio.gather(*requests), limit=5)
        expect(
            error is None,
            f"three concurrent requests raised {error!r}",
            "run them alone in a cell to see why",
        )
        _check_stamps(_stamps(log.lines[1:]), thread_errors)
        await _check_nesting(request_log_class)
    finally:
        await clean_up([], before)
    return "ids kept apart across concurrent tasks, carried into to_thread and child tasks, restored after each block"


def _check_stamps(stamped: list[tuple[str, str]], thread_errors: list[str]) -> None:
    def wrong(kinds: tuple[str, ...]) -> list[str]:
        mine = [(stamp, msg) for stamp, msg in stamped if msg.split()[0] in kinds]
        return [f"[{stamp}] {msg}" for stamp, msg in mine if stamp != msg.split()[-1]]

    mixed = wrong(("start", "end"))
    expect(
        not mixed,
        f"{len(mixed)} lines from three concurrent requests carry another request's id, e.g. {mixed[:2]}",
        "one attribute, global or threading.local holds a single id for every task on the loop: keep the "
        "current id in a contextvars.ContextVar, which each task sees in its own context",
    )
    lost = wrong(("thread",))
    expect(
        not thread_errors and not lost,
        f"info() called through asyncio.to_thread wrote or raised {thread_errors[:1] or lost[:2]}",
        "asyncio.to_thread runs the function in the caller's context, not in its task: "
        "asyncio.current_task() and threading.local do not carry over, a contextvars.ContextVar does",
    )
    orphans = wrong(("child",))
    expect(
        not orphans,
        f"a task created inside a request logged {orphans[:2]}",
        "a new task starts with a copy of its creator's context: keep the id in a contextvars.ContextVar "
        "(a dict keyed by asyncio.current_task() does not reach child tasks)",
    )


async def _check_nesting(request_log_class: Callable[[], Any]) -> None:
    log = request_log_class()
    with log.request("outer"):
        log.info("outer before")
        with log.request("inner"):
            log.info("nested")
        log.info("outer after")
    log.info("after all")
    expect(
        log.lines == ["[outer] outer before", "[inner] nested", "[outer] outer after", "[-] after all"],
        f"nested requests wrote {log.lines!r}",
        "the id leaks out of the block: restore the previous id when the block ends "
        "(token = var.set(request_id) … var.reset(token)); the code that awaits your code shares its context",
    )
    log = request_log_class()
    try:
        with log.request("failing"):
            raise OriginDown("the handler failed")
    except OriginDown:
        pass
    log.info("after a failure")
    expect(
        log.lines == ["[-] after a failure"],
        f"after a request that raised, info() wrote {log.lines!r}",
        "reset the id in a `finally` around the `yield`, so a request that raises restores it too",
    )
