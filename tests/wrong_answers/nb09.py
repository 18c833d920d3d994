"""Wrong answers for notebook 09 · Redis with redis.asyncio."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from helpers.checks import nb09
from helpers.services import redis_url

from . import Lab, Wrong

Decorator = Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]

# ------------------------------------------------------------------ cached


def cached_with_plain_set(r: Any, prefix: str, ttl: int) -> Decorator:
    """The notebook's warning: a plain SET stores the value without any expiry."""

    def decorate(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(func)
        async def wrapper(*args: Any) -> Any:
            key = f"{prefix}{func.__name__}:{json.dumps(args)}"
            if (hit := await r.get(key)) is not None:
                return json.loads(hit)
            value = await func(*args)
            await r.set(key, json.dumps(value))
            return value

        return wrapper

    return decorate


def cached_ignoring_arguments(r: Any, prefix: str, ttl: int) -> Decorator:
    """The key is the function's name only: every argument gets the first call's result."""

    def decorate(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(func)
        async def wrapper(*args: Any) -> Any:
            key = prefix + func.__name__
            if (hit := await r.get(key)) is not None:
                return json.loads(hit)
            value = await func(*args)
            await r.set(key, json.dumps(value), ex=ttl)
            return value

        return wrapper

    return decorate


def cached_returning_the_raw_hit(r: Any, prefix: str, ttl: int) -> Decorator:
    """Returns what Redis gave back on a hit, the JSON text, instead of decoding it."""

    def decorate(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(func)
        async def wrapper(*args: Any) -> Any:
            key = f"{prefix}{func.__name__}:{json.dumps(args)}"
            if (hit := await r.get(key)) is not None:
                return hit
            value = await func(*args)
            await r.set(key, json.dumps(value), ex=ttl)
            return value

        return wrapper

    return decorate


def cached_set_then_expire(r: Any, prefix: str, ttl: int) -> Decorator:
    """SET, then EXPIRE in a second command: a crash between them leaves a key that never expires."""

    def decorate(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(func)
        async def wrapper(*args: Any) -> Any:
            key = f"{prefix}{func.__name__}:{json.dumps(args)}"
            if (hit := await r.get(key)) is not None:
                return json.loads(hit)
            value = await func(*args)
            await r.set(key, json.dumps(value))
            await r.expire(key, ttl)
            return value

        return wrapper

    return decorate


def cached_looking_up_with_keys(r: Any, prefix: str, ttl: int) -> Decorator:
    """Asks KEYS for everything under the prefix to see whether the key exists: O(all keys) per call."""

    def decorate(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(func)
        async def wrapper(*args: Any) -> Any:
            key = f"{prefix}{func.__name__}:{json.dumps(args)}"
            if key in await r.keys(prefix + "*"):
                return json.loads(await r.get(key))
            value = await func(*args)
            await r.set(key, json.dumps(value), ex=ttl)
            return value

        return wrapper

    return decorate


def cached_swallowing_failures(r: Any, prefix: str, ttl: int) -> Decorator:
    """A "robust" cache: a failing call returns None, and that None is cached for the whole TTL."""

    def decorate(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(func)
        async def wrapper(*args: Any) -> Any:
            key = f"{prefix}{func.__name__}:{json.dumps(args)}"
            if (hit := await r.get(key)) is not None:
                return json.loads(hit)
            try:
                value = await func(*args)
            except Exception:  # noqa: BLE001 - the mistake
                value = None
            await r.set(key, json.dumps(value), ex=ttl)
            return value

        return wrapper

    return decorate


def cached_storing_the_failure(r: Any, prefix: str, ttl: int) -> Decorator:
    """Re-raises a failure, but first caches it as a value: the next calls get the error for the TTL."""

    def decorate(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(func)
        async def wrapper(*args: Any) -> Any:
            key = f"{prefix}{func.__name__}:{json.dumps(args)}"
            if (hit := await r.get(key)) is not None:
                return json.loads(hit)
            try:
                value = await func(*args)
            except Exception as exc:
                await r.set(key, json.dumps({"error": str(exc)}), ex=ttl)
                raise
            await r.set(key, json.dumps(value), ex=ttl)
            return value

        return wrapper

    return decorate


# ------------------------------------------------------------------ rate_limit


async def two_steps(r: Any, key: str, limit: int, window: int) -> tuple[bool, float]:
    """The notebook's `allow_two_steps`: INCR, then EXPIRE only when the count is 1, then PTTL."""
    count = await r.incr(key)
    if count == 1:
        await r.expire(key, window)
    if count <= limit:
        return True, 0.0
    return False, max(await r.pttl(key), 1) / 1000


async def three_awaits(r: Any, key: str, limit: int, window: int) -> tuple[bool, float]:
    """The right commands (INCR; EXPIRE NX; PTTL), but three awaits: three round trips, not atomic."""
    count = await r.incr(key)
    await r.expire(key, window, nx=True)
    pttl = await r.pttl(key)
    if count <= limit:
        return True, 0.0
    return False, max(pttl, 1) / 1000


async def pipeline_without_transaction(r: Any, key: str, limit: int, window: int) -> tuple[bool, float]:
    """One round trip, but transaction=False: batching without MULTI … EXEC is not atomic."""
    async with r.pipeline(transaction=False) as pipe:
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        pipe.pttl(key)
        count, _, pttl = await pipe.execute()
    if count <= limit:
        return True, 0.0
    return False, max(pttl, 1) / 1000


async def pttl_after_exec(r: Any, key: str, limit: int, window: int) -> tuple[bool, float]:
    """INCR and EXPIRE in MULTI … EXEC, then PTTL on its own: a second round trip, maybe on an expired key."""
    async with r.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        count, _ = await pipe.execute()
    if count <= limit:
        return True, 0.0
    return False, max(await r.pttl(key), 1) / 1000


async def read_then_write(r: Any, key: str, limit: int, window: int) -> tuple[bool, float]:
    """The notebook's `allow_racy`: GET, compare, SET: simultaneous requests all read the same count."""
    count = int(await r.get(key) or 0)
    if count >= limit:
        return False, max(await r.pttl(key), 1) / 1000
    await asyncio.sleep(0.01)  # a log line, a lookup: anything between the read and the write
    await r.set(key, count + 1, ex=window)
    return True, 0.0


async def expire_without_nx(r: Any, key: str, limit: int, window: int) -> tuple[bool, float]:
    """Atomic, but EXPIRE without NX: every request, refused ones too, restarts the window."""
    async with r.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window)
        pipe.pttl(key)
        count, _, pttl = await pipe.execute()
    if count <= limit:
        return True, 0.0
    return False, max(pttl, 1) / 1000


async def retry_after_in_ms(r: Any, key: str, limit: int, window: int) -> tuple[bool, float]:
    """Returns PTTL as it comes, in milliseconds, where seconds are asked for."""
    async with r.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        pipe.pttl(key)
        count, _, pttl = await pipe.execute()
    if count <= limit:
        return True, 0.0
    return False, float(pttl)


async def retry_after_the_whole_window(r: Any, key: str, limit: int, window: int) -> tuple[bool, float]:
    """Tells every refused client to come back after a whole window, however little of it is left."""
    async with r.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        count, _ = await pipe.execute()
    if count <= limit:
        return True, 0.0
    return False, float(window)


WRONG = [
    Wrong("cached", "plain SET without a TTL", cached_with_plain_set, r"(?s)ex=ttl.*-1 means"),
    Wrong(
        "cached", "key ignores the arguments", cached_ignoring_arguments, r"build the key from the arguments"
    ),
    Wrong("cached", "returns the raw JSON on a hit", cached_returning_the_raw_hit, r"json\.loads of a hit"),
    Wrong("cached", "SET, then EXPIRE separately", cached_set_then_expire, r"separate EXPIRE"),
    Wrong("cached", "looks the key up with KEYS", cached_looking_up_with_keys, r"sent KEYS"),
    Wrong(
        "cached",
        "swallows failures and caches None",
        cached_swallowing_failures,
        r"(?s)returned None instead of raising.*not be cached",
    ),
    Wrong("cached", "caches the failure", cached_storing_the_failure, r"the failure was cached"),
    Wrong("rate_limit", "INCR, then EXPIRE if count == 1", two_steps, r"EXPIRE only when the count was 1"),
    Wrong(
        "rate_limit",
        "three separate awaits",
        three_awaits,
        r"(?s)separate commands, one await each.*no expiry",
    ),
    Wrong("rate_limit", "pipeline(transaction=False)", pipeline_without_transaction, r"transaction=False"),
    Wrong("rate_limit", "PTTL after the EXEC", pttl_after_exec, r"PTTL commands went out on their own"),
    Wrong("rate_limit", "read, then write", read_then_write, r"earlier GET"),
    Wrong("rate_limit", "EXPIRE without NX", expire_without_nx, r"(?s)pushed the window.*NX"),
    Wrong("rate_limit", "retry_after in milliseconds", retry_after_in_ms, r"divide by 1000|PTTL / 1000"),
    Wrong(
        "rate_limit", "retry_after is the whole window", retry_after_the_whole_window, r"not the whole window"
    ),
]


async def _client(lab: Lab) -> Any:
    """Like the notebook's client (decode_responses=True); the lab's own one cleans the namespace."""
    import redis.asyncio

    await lab.redis()
    client = redis.asyncio.Redis.from_url(redis_url(), decode_responses=True)
    lab._closers.append(client.aclose)  # closed before the lab's own client
    return client


async def judge_cached(answer: Any, lab: Lab) -> None:
    await nb09.check_cached(answer, await _client(lab), lab.ns, lab.server)


async def judge_rate_limit(answer: Any, lab: Lab) -> None:
    await nb09.check_rate_limit(answer, await _client(lab), lab.ns)


CHECKS = {"cached": judge_cached, "rate_limit": judge_rate_limit}
