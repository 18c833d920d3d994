"""Checks for notebook 09 · Redis with redis.asyncio.

Every key a check touches lives under the notebook's prefix (``ns.key_prefix``), and each check deletes
its own keys before it starts, so it can run any number of times next to other learners::

    await nb09.check_cached(cached, r, ns, server)
    await nb09.check_rate_limit(rate_limit, r, ns)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from helpers.checks import exercise, expect

CALLS = [1, 2, 1, 1, 3, 2, 1, 3]  # three distinct items: 3 misses, 5 hits
CACHE_TTL = 30
ORIGIN_PATH = "/delay/0.1"


async def _clear(r: Any, prefix: str) -> None:
    keys = [key async for key in r.scan_iter(match=prefix + "*")]
    if keys:
        await r.delete(*keys)


async def _keys(r: Any, prefix: str) -> list[Any]:
    return sorted([key async for key in r.scan_iter(match=prefix + "*")])


@exercise("cached", timeout=30)
async def check_cached(cached: Callable[..., Any], r: Any, ns: Any, server: Any) -> str:
    import aiohttp

    prefix = f"{ns.key_prefix}ex:cache:"
    await _clear(r, prefix)
    origin_calls = 0

    async with aiohttp.ClientSession() as session:

        async def product(item: int) -> dict[str, Any]:
            """The slow origin: one request to the lab server per call."""
            nonlocal origin_calls
            origin_calls += 1
            async with session.get(f"{server.url}{ORIGIN_PATH}", params={"item": item}) as resp:
                resp.raise_for_status()
                body = await resp.json()
            return {"item": int(body["args"]["item"]), "price": item * 3, "tags": ["fresh", f"n{item}"]}

        fast = cached(r, prefix, CACHE_TTL)(product)
        requests_before = server.stats()["per_path"].get(ORIGIN_PATH, 0)
        results = [await fast(item) for item in CALLS]
        requests = server.stats()["per_path"].get(ORIGIN_PATH, 0) - requests_before

    wanted = [{"item": i, "price": i * 3, "tags": ["fresh", f"n{i}"]} for i in CALLS]
    wrong = next((i for i, (got, want) in enumerate(zip(results, wanted, strict=False)) if got != want), None)
    shown = wrong or 0
    expect(
        wrong is None,
        f"call {shown + 1} (item {CALLS[shown]}) returned {results[shown]!r}, expected {wanted[shown]!r}",
        "return what the function returned; store it as JSON (json.dumps) and give back json.loads of a hit",
    )
    distinct = len(set(CALLS))
    hits = len(CALLS) - origin_calls
    expect(
        origin_calls == distinct,
        f"the function ran {origin_calls} times for {len(CALLS)} calls with {distinct} distinct arguments",
        "look the key up first (GET) and call the function only on a miss; build the key from the arguments",
    )
    expect(
        requests == distinct,
        f"the lab server saw {requests} requests, expected {distinct}",
        "only a miss may call the wrapped function",
    )
    keys = await _keys(r, prefix)
    expect(
        len(keys) == distinct,
        f"found {len(keys)} keys under the prefix you were given, expected {distinct}",
        "build every key as prefix + something that identifies the arguments, one key per distinct call",
    )
    ttls = [await r.ttl(key) for key in keys]
    expect(
        all(0 < t <= CACHE_TTL for t in ttls),
        f"the keys' TTLs on the server are {ttls}",
        "store values with an expiry: `await r.set(key, value, ex=ttl)` (-1 means the key never expires)",
    )
    await _clear(r, prefix)
    return (
        f"{hits} of {len(CALLS)} calls were hits, the server saw {requests} requests, "
        f"every key expires within {CACHE_TTL} seconds"
    )


LIMIT = 5
BURST = 12
WINDOW = 2  # seconds: long enough that a busy machine cannot overrun it mid-check


@exercise("rate_limit", timeout=30)
async def check_rate_limit(rate_limit: Callable[..., Awaitable[tuple[bool, float]]], r: Any, ns: Any) -> str:
    prefix = f"{ns.key_prefix}ex:rl:"
    await _clear(r, prefix)
    alice, bob = prefix + "alice", prefix + "bob"

    # A burst of simultaneous requests: a read-then-write limiter lets too many through.
    burst = await asyncio.gather(*(rate_limit(r, alice, LIMIT, WINDOW) for _ in range(BURST)))
    expect(
        all(isinstance(answer, tuple) and len(answer) == 2 for answer in burst),
        f"rate_limit returned {burst[0]!r}",
        "return a pair: (allowed, retry_after), e.g. (True, 0.0)",
    )
    allowed = [ok for ok, _ in burst]
    expect(
        allowed.count(True) == LIMIT,
        f"{allowed.count(True)} of {BURST} simultaneous requests were allowed, expected exactly {LIMIT}",
        "let INCR count (it is atomic) and decide from the value it returns, not from an earlier GET",
    )
    retry = [wait for ok, wait in burst if not ok]
    expect(
        all(0 < wait <= WINDOW for wait in retry),
        f"refused requests said retry after {retry[:3]} seconds",
        "for a refused request return the key's remaining time in seconds (PTTL / 1000), in the same transaction",
    )
    expect(
        all(wait == 0 for ok, wait in burst if ok),
        "an allowed request carried a retry-after",
        "return (True, 0.0) when the request is allowed",
    )

    others = [ok for ok, _ in [await rate_limit(r, bob, LIMIT, WINDOW) for _ in range(3)]]
    expect(others == [True] * 3, f"a different key got {others}", "count each key on its own")

    pttl = await r.pttl(alice)
    expect(
        0 < pttl <= WINDOW * 1000,
        f"the counter's PTTL on the server is {pttl} ms",
        "give the counter an expiry when its window opens (EXPIRE key window NX) in the same MULTI/EXEC "
        "as the INCR; -1 means it never expires and the client stays locked out for ever",
    )
    await asyncio.sleep(0.5)  # so a correct window has at most 1.5 s left: well under the 80 % below
    later, _ = await rate_limit(r, alice, LIMIT, WINDOW)
    pttl_later = await r.pttl(alice)
    expect(
        not later,
        "a request in the same window was allowed after the limit was reached",
        "refuse every request whose count is above the limit until the key expires",
    )
    expect(
        0 < pttl_later <= WINDOW * 1000 * 0.8,
        "a refused request pushed the window's end further away",
        "set the expiry only when the window opens (EXPIRE … NX), or a client that keeps trying is never let in",
    )
    await asyncio.sleep(pttl_later / 1000 + 0.05)
    again, _ = await rate_limit(r, alice, LIMIT, WINDOW)
    expect(
        again,
        "after the window ended the client was still refused",
        "the counter must expire with its window",
    )
    await _clear(r, prefix)
    return f"a burst of {BURST} let exactly {LIMIT} through, refusals say when to retry, windows expire"
