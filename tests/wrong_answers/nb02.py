"""Wrong answers for notebook 02 · Coroutines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from helpers.checks import nb02

from . import Wrong

FETCH_SECONDS = nb02.FETCH_SECONDS

# The notebook's two fetchers, exactly as its exercise cell defines them.


async def get_user(uid: int) -> dict:
    await asyncio.sleep(FETCH_SECONDS)
    return {"id": uid, "name": f"user {uid}"}


async def get_orders(uid: int) -> list[str]:
    await asyncio.sleep(FETCH_SECONDS)
    return [f"order {uid}-1", f"order {uid}-2"]


# load_dashboard


async def dashboard_of_coroutines(uids: list[int]) -> list[Any]:
    """The notebook's starting code: no await on the profiles, so it returns coroutine objects."""

    async def profile(uid: int) -> dict:
        user = get_user(uid)
        orders = await get_orders(uid)
        return {"name": user["name"], "orders": orders}  # type: ignore[index]

    return [profile(uid) for uid in uids]


async def dashboard_user_not_awaited(uids: list[int]) -> list[dict]:
    """Awaits the profiles now, but still not get_user: subscripts a coroutine object."""

    async def profile(uid: int) -> dict:
        user = get_user(uid)
        orders = await get_orders(uid)
        try:
            return {"name": user["name"], "orders": orders}  # type: ignore[index]
        finally:
            user.close()  # (only to keep the test run free of "never awaited" warnings)

    return list(await asyncio.gather(*(profile(uid) for uid in uids)))


async def dashboard_user_then_orders(uids: list[int]) -> list[dict]:
    """All uids at once, but each one's user and orders awaited one after the other: 0.8 s."""

    async def profile(uid: int) -> dict:
        user = await get_user(uid)
        orders = await get_orders(uid)
        return {"name": user["name"], "orders": orders}

    return list(await asyncio.gather(*(profile(uid) for uid in uids)))


async def dashboard_coroutines_one_by_one(uids: list[int]) -> list[dict]:
    """The notebook's "calling them tasks" mistake: a list of coroutine objects, awaited one by one."""

    async def profile(uid: int) -> dict:
        user, orders = await asyncio.gather(get_user(uid), get_orders(uid))
        return {"name": user["name"], "orders": orders}

    jobs = [profile(uid) for uid in uids]  # nothing runs yet
    return [await job for job in jobs]


# batched


async def batched_drops_the_rest(source: Any, size: int) -> AsyncIterator[list[Any]]:
    """Forgets the last, shorter batch."""
    batch = []
    async for item in source:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []


async def batched_reads_everything_first(source: Any, size: int) -> AsyncIterator[list[Any]]:
    """Collects the whole source before yielding: never ends on an endless stream."""
    items = [item async for item in source]
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def batched_empty_tail(source: Any, size: int) -> AsyncIterator[list[Any]]:
    """Yields whatever is left at the end, even when nothing is: an empty batch."""
    batch = []
    async for item in source:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    yield batch


async def batched_one_list_reused(source: Any, size: int) -> AsyncIterator[list[Any]]:
    """Yields the same list every time and empties it with clear(): earlier batches change under the caller."""
    batch: list[Any] = []
    async for item in source:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch.clear()
    if batch:
        yield batch


async def batched_plain_for(source: Any, size: int) -> AsyncIterator[list[Any]]:
    """Reads the async source with a plain `for`: TypeError, an async generator is not iterable."""
    batch = []
    for item in source:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def batched_anext_past_the_end(source: Any, size: int) -> AsyncIterator[list[Any]]:
    """Pulls with anext() and never expects the end: StopAsyncIteration escapes the generator."""
    while True:
        yield [await anext(source) for _ in range(size)]


# transaction


class CommitAlways:
    """Commits whatever happened in the block, errors included."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def __aenter__(self) -> Any:
        await self.conn.execute("BEGIN")
        return self.conn

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.conn.execute("COMMIT")


class RollbackOnExceptionOnly(CommitAlways):
    """Rolls back only for an Exception: a cancellation (a BaseException) gets committed."""

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and issubclass(exc_type, Exception):
            await self.conn.execute("ROLLBACK")
        else:
            await self.conn.execute("COMMIT")


class SwallowsErrors(CommitAlways):
    """Rolls back, then returns True: the error never reaches the caller."""

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        await self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return True


class CommitNotAwaited(CommitAlways):
    """Forgets the await in __aexit__: COMMIT and ROLLBACK are coroutine objects that never run."""

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


@contextlib.asynccontextmanager
async def transaction_without_try(conn: Any) -> AsyncIterator[Any]:
    """The notebook's warning about @asynccontextmanager: no try around the yield, so an error skips the rest."""
    await conn.execute("BEGIN")
    yield conn
    await conn.execute("COMMIT")


class HandsOutItself(CommitAlways):
    """`async with Transaction(conn) as c` gives the Transaction, not the connection."""

    async def __aenter__(self) -> Any:
        await self.conn.execute("BEGIN")
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


WRONG = [
    Wrong(
        "load_dashboard", "returns coroutine objects", dashboard_of_coroutines, r"only creates a coroutine"
    ),
    Wrong(
        "load_dashboard",
        "get_user not awaited",
        dashboard_user_not_awaited,
        r"coroutine object was used as if it were its result",
    ),
    Wrong(
        "load_dashboard",
        "user then orders",
        dashboard_user_then_orders,
        r"user and orders were fetched one after another",
    ),
    Wrong(
        "load_dashboard",
        "coroutine objects awaited one by one",
        dashboard_coroutines_one_by_one,
        r"list of coroutine objects one by one",
    ),
    Wrong("batched", "drops the last batch", batched_drops_the_rest, r"last batch may be shorter"),
    Wrong("batched", "reads the whole source first", batched_reads_everything_first, r"whole source first"),
    Wrong("batched", "empty batch at the end", batched_empty_tail, r"no empty batch"),
    Wrong("batched", "one list reused", batched_one_list_reused, r"new list.*batch\.clear\(\)"),
    Wrong("batched", "plain for over an async source", batched_plain_for, r"`async for`"),
    Wrong("batched", "anext past the end", batched_anext_past_the_end, r"StopAsyncIteration"),
    Wrong("transaction", "commits on error", CommitAlways, r"execute 'ROLLBACK'"),
    Wrong(
        "transaction",
        "commits on cancellation",
        RollbackOnExceptionOnly,
        r"CancelledError is a BaseException",
    ),
    Wrong("transaction", "swallows the error", SwallowsErrors, r"must not swallow"),
    Wrong("transaction", "execute not awaited", CommitNotAwaited, r"never awaited"),
    Wrong(
        "transaction",
        "asynccontextmanager without try",
        transaction_without_try,
        r"code after `yield` is skipped.*try",
    ),
    Wrong("transaction", "hands out itself", HandsOutItself, r"should return the connection"),
]

CHECKS = {
    "load_dashboard": lambda answer, lab: nb02.check_load_dashboard(answer),
    "batched": lambda answer, lab: nb02.check_batched(answer),
    "transaction": lambda answer, lab: nb02.check_transaction(answer),
}
