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

from helpers.checks import exercise, expect, outcome
from helpers.services.namespaces import SCAN_COUNT, delete_prefix

CALLS = [1, 2, 1, 1, 3, 2, 1, 3]  # three distinct items: 3 misses, 5 hits
CACHE_TTL = 30
ORIGIN_PATH = "/delay/0.1"


ATOMIC_COMMANDS = {"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"}  # a script runs as one


class _Wire:
    """What the learner's code sent through the client the check handed it, and how.

    Each entry of ``sent`` is ``(how, args)``: how is "alone" (a command of its own, one round trip),
    "batch" (a pipeline without MULTI), "multi" (inside MULTI … EXEC) or "script" (EVAL and friends).
    With ``fail_after_incr`` set, the next INCR that is not inside MULTI … EXEC "loses its connection"
    right after the server ran it, as when a worker dies between two commands; inside MULTI the
    server discards the whole queue instead, so nothing runs. Either way ConnectionError is raised.
    """

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []
        self.fail_after_incr = False

    def note(self, how: str, args: tuple[Any, ...]) -> tuple[str, ...]:
        words = tuple(a.decode() if isinstance(a, bytes) else str(a) for a in args)
        name = words[0].upper()
        words = ("INCR" if name == "INCRBY" else name, *words[1:])  # redis-py's incr() sends INCRBY key 1
        self.sent.append(("script" if words[0] in ATOMIC_COMMANDS else how, words))
        return words

    def commands(self, name: str, how: str | None = None) -> list[tuple[str, ...]]:
        return [args for h, args in self.sent if args[0] == name and how in (None, h)]

    def crash(self) -> Exception:
        import redis.exceptions

        self.fail_after_incr = False
        return redis.exceptions.ConnectionError(
            "the connection broke right after INCR (injected by the check)"
        )


def _watched(r: Any, wire: _Wire) -> Any:
    """A client of the same class as ``r``, on ``r``'s connection pool, that tells ``wire`` what it sends."""
    from redis.asyncio.client import Pipeline

    class WatchedPipeline(Pipeline):
        async def execute(self, raise_on_error: bool = True) -> Any:
            atomic = self.is_transaction or self.explicit_transaction
            names = [wire.note("multi" if atomic else "batch", args)[0] for args, _ in self.command_stack]
            if wire.fail_after_incr and "INCR" in names:
                error = wire.crash()
                if not atomic:  # the commands up to INCR reached the server and ran; the rest did not
                    self.command_stack = self.command_stack[: names.index("INCR") + 1]
                    await super().execute(raise_on_error)
                await self.reset()
                raise error
            return await super().execute(raise_on_error)

    class Watched(type(r)):  # type: ignore[misc]
        async def execute_command(self, *args: Any, **options: Any) -> Any:
            name = wire.note("alone", args)[0]
            result = await super().execute_command(*args, **options)
            if name == "INCR" and wire.fail_after_incr:
                raise wire.crash()
            return result

        def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
            return WatchedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)

    return Watched(connection_pool=r.connection_pool)


async def _keys(r: Any, prefix: str) -> list[Any]:
    return sorted([key async for key in r.scan_iter(match=prefix + "*", count=SCAN_COUNT)])


@exercise("cached", timeout=30)
async def check_cached(cached: Callable[..., Any], r: Any, ns: Any, server: Any) -> str:
    import aiohttp

    prefix = f"{ns.key_prefix}ex:cache:"
    await delete_prefix(r, prefix)
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

        wire = _Wire()
        fast = cached(_watched(r, wire), prefix, CACHE_TTL)(product)
        requests_before = server.stats()["per_path"].get(ORIGIN_PATH, 0)
        results = [await fast(item) for item in CALLS]
        requests = server.stats()["per_path"].get(ORIGIN_PATH, 0) - requests_before

    wanted = [{"item": i, "price": i * 3, "tags": ["fresh", f"n{i}"]} for i in CALLS]
    wrong = next((i for i, (got, want) in enumerate(zip(results, wanted, strict=False)) if got != want), None)
    shown = wrong or 0
    expect(
        wrong is None or results[shown] not in wanted,
        f"call {shown + 1} (item {CALLS[shown]}) returned the result of another item: {results[shown]!r}",
        "build the key from the arguments (e.g. prefix + name + json.dumps(args)): one key per distinct call",
    )
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
    looked_up = wire.commands("KEYS") + wire.commands("SCAN")
    expect(
        not looked_up,
        f"your cache sent {looked_up[0][0]} {' '.join(looked_up[0][1:2])}: it walks every key on the server "
        "(KEYS blocks all other clients while it does)"
        if looked_up
        else "",
        "do not list keys to find one: GET the key you built from the arguments (None means a miss)",
    )
    untimed = [
        args for args in wire.commands("SET") if not {"EX", "PX", "EXAT", "PXAT"} & {w.upper() for w in args}
    ]
    expirations = wire.commands("EXPIRE") + wire.commands("PEXPIRE")
    expect(
        not (untimed and expirations),
        f"{len(untimed)} values were stored by a SET without expiry and then given one by a separate "
        f"{expirations[0][0] if expirations else 'EXPIRE'}: a failure between the two leaves a key that never expires",
        "store the value and its TTL in one command: `await r.set(key, value, ex=ttl)`",
    )
    await delete_prefix(r, prefix)
    await _check_failures_are_not_cached(cached, r, f"{ns.key_prefix}ex:cache-fail:")
    return (
        f"{hits} of {len(CALLS)} calls were hits, the server saw {requests} requests, "
        f"every key expires within {CACHE_TTL} seconds"
    )


class OriginDown(ConnectionError):
    """The check's origin failing, as a real one does now and then."""


async def _check_failures_are_not_cached(cached: Callable[..., Any], r: Any, prefix: str) -> None:
    """The origin fails once: the caller must see the error, and the next call must try again."""
    await delete_prefix(r, prefix)
    calls = 0

    async def product(item: int) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise OriginDown("the origin is down (the check makes its first call fail)")
        return {"item": item, "price": item * 3}

    fast = cached(r, prefix, CACHE_TTL)(product)
    try:
        first, error = await outcome(fast(4))
        expect(
            isinstance(error, OriginDown),
            f"when the function raised, your wrapper returned {first!r} instead of raising"
            if error is None
            else f"when the function raised OriginDown, your wrapper raised {type(error).__name__}: {error}",
            "do not catch the function's exception: let it reach the caller, and store nothing (a failure must "
            "not be cached)",
        )
        second, error = await outcome(fast(4))
        expect(
            error is None and calls == 2 and second == {"item": 4, "price": 12},
            f"after a failed call, the next call returned {second!r} and the function ran {calls} time(s): "
            "the failure was cached"
            if error is None
            else f"after a failed call, the next call raised {type(error).__name__}: {error}",
            "store a value only after the function returned it; after a failure the next call must call it again",
        )
    finally:
        await delete_prefix(r, prefix)


LIMIT = 5
BURST = 12
WINDOW = 2  # seconds: long enough that a busy machine cannot overrun it mid-check


@exercise("rate_limit", timeout=30)
async def check_rate_limit(rate_limit: Callable[..., Awaitable[tuple[bool, float]]], r: Any, ns: Any) -> str:
    prefix = f"{ns.key_prefix}ex:rl:"
    await delete_prefix(r, prefix)
    alice, bob, carol = prefix + "alice", prefix + "bob", prefix + "carol"
    wire = _Wire()
    watched = _watched(r, wire)

    # A burst of simultaneous requests: a read-then-write limiter lets too many through.
    burst = await asyncio.gather(*(rate_limit(watched, alice, LIMIT, WINDOW) for _ in range(BURST)))
    expect(
        all(isinstance(answer, tuple) and len(answer) == 2 for answer in burst),
        f"rate_limit returned {burst[0]!r}",
        "return a pair: (allowed, retry_after), e.g. (True, 0.0)",
    )
    allowed = [ok for ok, _ in burst]
    expect(
        allowed.count(True) == LIMIT,
        f"{allowed.count(True)} of {BURST} simultaneous requests were allowed, expected exactly {LIMIT}",
        "let INCR count (it is atomic) and decide from the value it returns, not from an earlier GET "
        "(read-then-write lets simultaneous requests read the same count)",
    )
    retry = [wait for ok, wait in burst if not ok]
    expect(
        all(0 < wait <= WINDOW for wait in retry),
        f"refused requests said retry after {retry[:3]} seconds (the window is {WINDOW} s)",
        "for a refused request return the key's remaining time in seconds (PTTL / 1000), in the same transaction",
    )
    expect(
        all(wait == 0 for ok, wait in burst if ok),
        "an allowed request carried a retry-after",
        "return (True, 0.0) when the request is allowed",
    )

    # The notebook's carol: the connection breaks right after INCR. Inside MULTI … EXEC nothing runs;
    # with INCR on its own (or in a pipeline without MULTI) the counter stays, with no expiry.
    incrs, expires = len(wire.commands("INCR", "alone")), len(wire.commands("EXPIRE", "alone"))
    seen = len(wire.sent)
    wire.fail_after_incr = True
    await outcome(rate_limit(watched, carol, LIMIT, WINDOW))
    wire.fail_after_incr = False
    carol_ttl = await r.pttl(carol)
    how = next((h for h, args in wire.sent[seen:] if args[0] == "INCR"), None)
    if how == "batch":
        problem = (
            "your pipeline has transaction=False: it batches INCR and EXPIRE but does not make them atomic"
        )
    elif expires < incrs:
        problem = "INCR and EXPIRE went out as separate commands, EXPIRE only when the count was 1 (as in allow_two_steps)"
    else:
        problem = "INCR, EXPIRE and PTTL went out as separate commands, one await each"
    expect(
        carol_ttl != -1,
        f"{problem}; when the connection broke right after INCR, the counter was left with no expiry (PTTL -1)",
        "queue INCR, EXPIRE … NX and PTTL in one `async with r.pipeline(transaction=True) as pipe:` (MULTI … "
        "EXEC): then all of them run, or none",
    )
    await r.delete(carol)
    apart = [args[0] for args in wire.commands("PTTL", "alone") + wire.commands("TTL", "alone")]
    expect(
        not apart,
        f"{len(apart)} {apart[0] if apart else 'PTTL'} commands went out on their own, after the MULTI … EXEC",
        "queue PTTL in the same MULTI … EXEC as INCR and EXPIRE: one round trip, and the time left belongs to "
        "the count you got (on its own it may find the key already expired)",
    )

    others = [ok for ok, _ in [await rate_limit(watched, bob, LIMIT, WINDOW) for _ in range(3)]]
    expect(others == [True] * 3, f"a different key got {others}", "count each key on its own")

    pttl = await r.pttl(alice)
    expect(
        0 < pttl <= WINDOW * 1000,
        f"the counter's PTTL on the server is {pttl} ms",
        "give the counter an expiry when its window opens (EXPIRE key window NX) in the same MULTI/EXEC "
        "as the INCR; -1 means it never expires and the client stays locked out for ever",
    )
    # Wait until about 1 s of the window is left: a correct window then has well under the 80 % below,
    # and a retry-after of the whole window is half a second too long.
    await asyncio.sleep(max(0.0, pttl / 1000 - 1.0))
    pttl_before = await r.pttl(alice)
    later, wait_later = await rate_limit(watched, alice, LIMIT, WINDOW)
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
    expect(
        wait_later <= pttl_before / 1000 + 0.5,  # PTTL read inside the request can only be smaller
        f"a refused request said retry after {wait_later} s, but its window ended {pttl_before / 1000:.1f} s later",
        "return the time left in the window, from PTTL (in ms: divide by 1000), not the whole window",
    )
    await asyncio.sleep(pttl_later / 1000 + 0.05)
    again, _ = await rate_limit(watched, alice, LIMIT, WINDOW)
    expect(
        again,
        "after the window ended the client was still refused",
        "the counter must expire with its window",
    )
    await delete_prefix(r, prefix)
    return f"a burst of {BURST} let exactly {LIMIT} through, refusals say when to retry, windows expire"
