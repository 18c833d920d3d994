"""Checks for notebook 02 · Coroutines.

The dashboard check knows the notebook's two fetchers: ``get_user(uid)`` returns
``{"id": uid, "name": f"user {uid}"}`` and ``get_orders(uid)`` returns
``[f"order {uid}-1", f"order {uid}-2"]``, and each waits ``FETCH_SECONDS``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from helpers.checks import exercise, expect

FETCH_SECONDS = 0.4


def _profile(uid: int) -> dict[str, Any]:
    return {"name": f"user {uid}", "orders": [f"order {uid}-1", f"order {uid}-2"]}


@exercise("load_dashboard", timeout=10)
async def check_load_dashboard(load_dashboard: Callable[[list[int]], Awaitable[list[dict]]]) -> str:
    uids = [1, 2, 3]
    started = time.perf_counter()
    try:
        result = await load_dashboard(uids)
    except TypeError as exc:
        # e.g. user["name"] where user is get_user(uid) itself: a coroutine object, not a dict.
        expect(
            "coroutine" not in str(exc),
            f"{exc}",
            "a coroutine object was used as if it were its result: put `await` before the call that made it",
        )
        raise
    took = time.perf_counter() - started
    coros: list[Any] = [r for r in result if inspect.iscoroutine(r)] if isinstance(result, list) else []
    for coro in coros:
        coro.close()  # never started: closing them avoids a "never awaited" warning from the check itself
    expect(
        not coros,
        f"got {len(coros)} coroutine objects instead of dicts",
        "calling an async function only creates a coroutine; await it (all of them at once: asyncio.gather)",
    )
    expect(
        result == [_profile(uid) for uid in uids],
        f"load_dashboard({uids}) returned {result!r}",
        "one dict per uid, in the order of uids: {'name': user['name'], 'orders': orders}",
    )
    # All six fetches at once take FETCH_SECONDS (0.4 s); any two in a row take 0.8 s or more. The
    # number of fetch times it took says which awaits ran in a row: 2 for one uid's user then its
    # orders, 3 or more for the uids one after another.
    rounds = round(took / FETCH_SECONDS)
    if rounds >= 3:
        hint = (
            "the uids were loaded one after another (awaiting a list of coroutine objects one by one "
            "runs them one at a time too): gather all the uids' profiles at once with asyncio.gather"
        )
        if rounds > len(uids):
            hint += ", and inside each start the user and the orders together"
    else:
        hint = (
            "a uid's user and orders were fetched one after another: start both together, "
            "user, orders = await asyncio.gather(get_user(uid), get_orders(uid))"
        )
    expect(
        took < 1.5 * FETCH_SECONDS,
        f"took {took:.2f} s, about {rounds} fetches in a row; with every fetch running at once it takes about {FETCH_SECONDS:.1f} s",
        hint,
    )
    return f"{len(uids)} profiles, all six fetches at once ({took:.2f} s)"


async def _numbers(n: int, pulled: list[int]) -> AsyncIterator[int]:
    for i in range(n):
        pulled.append(i)
        await asyncio.sleep(0)
        yield i


@exercise("batched", timeout=10)
async def check_batched(batched: Callable[[AsyncIterable[Any], int], AsyncIterator[list[Any]]]) -> str:
    pulled: list[int] = []
    source = _numbers(7, pulled)
    gen = batched(source, 3)
    if inspect.iscoroutine(gen):
        await gen  # the stub raises NotImplementedError here; a finished coroutine falls through
        expect(
            False,
            "batched returned once instead of yielding batches",
            "an async generator is an `async def` with `yield` in it: yield each full batch",
        )
    expect(
        hasattr(gen, "__anext__"),
        f"batched(...) gave a {type(gen).__name__}, not an async iterator",
        "write batched as an `async def` that uses `yield`",
    )
    try:
        first = await anext(gen)
        expect(
            first == [0, 1, 2],
            f"the first batch was {first!r}",
            "collect `size` items, then yield them as a list",
        )
        expect(
            len(pulled) <= 4,
            f"batched read {len(pulled)} items before handing out the first batch of 3",
            "yield each batch as soon as it is full, instead of reading the whole source first",
        )
        rest = [batch async for batch in gen]
        # The caller keeps the batches it was given: each must be a list of its own.
        expect(
            first == [0, 1, 2] and all(batch is not first for batch in rest),
            f"the first batch, [0, 1, 2] when handed out, is now {first!r}",
            "yield a new list for every batch (`batch = []` after the yield), not one list emptied "
            "with batch.clear(): the caller still holds the batches it got earlier",
        )
        expect(
            rest == [[3, 4, 5], [6]],
            f"after [0, 1, 2] came {rest!r}",
            "the last batch may be shorter: yield what is left after the loop, if anything",
        )
        await source.aclose()  # type: ignore[attr-defined]  # an async generator, typed as its iterator
        empty = [b async for b in batched(_numbers(0, []), 3)]
    except TypeError as exc:
        expect(
            "not iterable" not in str(exc),
            f"batched raised TypeError: {exc}",
            "the source is an async iterable: read it with `async for`, not a plain `for`",
        )
        raise
    except RuntimeError as exc:
        expect(
            "StopAsyncIteration" not in str(exc),
            f"batched raised RuntimeError: {exc}",
            "when the source runs out, anext() raises StopAsyncIteration inside your generator: read it "
            "with `async for`, which stops by itself, and yield what is left after the loop",
        )
        raise
    expect(
        empty == [],
        f"an empty source gave {empty!r}",
        "yield nothing for an empty source: no empty batch at the end",
    )
    return "batches of 3, handed out as soon as each is full; last one shorter; nothing for nothing"


class RecordingConnection:
    """Stands in for a database connection: remembers every statement it was given, and every call.

    ``calls`` holds each ``execute(sql)`` call, ``statements`` each statement that really ran: a call
    whose coroutine nobody awaited is in the first and not in the second.
    """

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.calls: list[str] = []
        self._coros: list[Coroutine[Any, Any, None]] = []

    def execute(self, sql: str) -> Coroutine[Any, Any, None]:
        self.calls.append(sql)
        coro = self._run(sql)
        self._coros.append(coro)
        return coro

    async def _run(self, sql: str) -> None:
        await asyncio.sleep(0)
        self.statements.append(sql)

    def forgotten(self) -> list[str]:
        """The statements called but never awaited; their coroutines are closed (no warning later)."""
        left = []
        for sql, coro in zip(self.calls, self._coros, strict=True):
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()
                left.append(sql)
        return left


def _expect_all_awaited(conn: RecordingConnection) -> None:
    left = conn.forgotten()
    expect(
        not left,
        f"conn.execute({left[0]!r}) was called but never awaited, so it never ran" if left else "",
        "put `await` before every conn.execute(...): without it you only create a coroutine object",
    )


@exercise("Transaction", timeout=10)
async def check_transaction(transaction: Callable[[Any], Any]) -> str:
    conn = RecordingConnection()
    async with transaction(conn) as handed_out:
        seen_inside = list(
            conn.statements
        )  # checked after the block, so a failed check cannot meet __aexit__
        await conn.execute("INSERT 1")
    _expect_all_awaited(conn)
    expect(
        seen_inside == ["BEGIN"],
        f"inside the block, the statements so far were {seen_inside!r}",
        "__aenter__ should `await conn.execute('BEGIN')`",
    )
    expect(
        handed_out is conn,
        f"`async with Transaction(conn) as x` gave x = {handed_out!r}",
        "__aenter__ should return the connection",
    )
    expect(
        conn.statements == ["BEGIN", "INSERT 1", "COMMIT"],
        f"a block that succeeded ran {conn.statements!r}",
        "when the block ends normally (exc_type is None), __aexit__ should execute 'COMMIT'",
    )

    for error in (ValueError("bad row"), asyncio.CancelledError()):
        name = type(error).__name__
        conn = RecordingConnection()
        escaped: BaseException | None = None
        try:
            async with transaction(conn):
                await conn.execute("INSERT 2")
                raise error
        except BaseException as exc:  # noqa: BLE001 - we want to see exactly what came out
            escaped = exc
        _expect_all_awaited(conn)
        rollback_hint = (
            "when the block raises, __aexit__ receives the exception type: execute 'ROLLBACK' then"
        )
        if name == "CancelledError":
            rollback_hint = (
                "CancelledError is a BaseException, not an Exception: roll back whenever exc_type is not None"
            )
        if conn.statements == ["BEGIN", "INSERT 2"]:
            # Nothing at all after the block: typically @asynccontextmanager code after a bare `yield`.
            rollback_hint = (
                "nothing ran after the block raised: with @asynccontextmanager the code after `yield` is "
                "skipped on an error; put the yield in try/except (ROLLBACK, then `raise`) and COMMIT in `else`"
            )
            if name == "CancelledError":
                rollback_hint += " (CancelledError is a BaseException: `except BaseException`)"
        expect(
            conn.statements == ["BEGIN", "INSERT 2", "ROLLBACK"],
            f"a block that raised {name} ran {conn.statements!r}",
            rollback_hint,
        )
        expect(
            escaped is error,
            f"the {name} raised inside the block did not come out of `async with`",
            "__aexit__ must not swallow errors: return None or False, never True",
        )
    return "COMMIT on success, ROLLBACK on an error or a cancellation, and the error still propagates"
