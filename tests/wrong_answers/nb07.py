"""Wrong answers for notebook 07 · Resilient HTTP."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import math
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp

from helpers.checks import nb07

from . import Wrong

# ------------------------------------------------------------------ the notebook's own pieces

RETRY_STATUSES = {429, 500, 502, 503, 504}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.status in RETRY_STATUSES
    return isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError))


def full_jitter(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    return rng.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def retry_after(headers: Any, *, longest: float = 60.0) -> float | None:
    value = (headers or {}).get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - datetime.now(UTC)).total_seconds())
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, longest)


def retry_after_trusted(headers: Any) -> float | None:
    """The notebook's first retry_after: parses the header, but trusts whatever number it finds."""
    value = (headers or {}).get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# ------------------------------------------------------------------ fetch_with_retries


async def naive_loop(session, url, attempts, *, base=0.05, cap=1.0, timeout=0.3, rng=None):
    """The notebook's get_json_naive: falls out of the loop with None, except Exception, 429 not retried."""
    retries = attempts - 1
    for attempt in range(retries + 1):
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                if resp.status == 200:
                    return await resp.json()
                if resp.status >= 500:
                    if attempt < retries:
                        await asyncio.sleep(base * 2**attempt + random.uniform(0, base))
                        continue
                else:
                    return None
        except aiohttp.ClientError:
            if attempt < retries:
                await asyncio.sleep(base * 2**attempt)
                continue
            return None
        except Exception:  # noqa: BLE001 - the mistake on show
            return None


async def client_error_only(session, url, attempts, *, base=0.05, cap=1.0, timeout=0.3, rng=None):
    """Retries aiohttp.ClientError only: a timed-out attempt (TimeoutError) is never retried."""
    rng = rng or random.Random()
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json()
        except aiohttp.ClientError as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            told = retry_after(getattr(exc, "headers", None), longest=cap)
            await asyncio.sleep(told if told is not None else full_jitter(attempt, base, cap, rng))
    raise AssertionError("unreachable")


async def retries_every_status(session, url, attempts, *, base=0.05, cap=1.0, timeout=0.3, rng=None):
    """Retries every ClientResponseError, 404 included."""
    rng = rng or random.Random()
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json()
        except (aiohttp.ClientResponseError, aiohttp.ClientConnectionError, TimeoutError) as exc:
            if attempt == attempts or isinstance(exc, aiohttp.ContentTypeError):
                raise
            told = retry_after(getattr(exc, "headers", None), longest=cap)
            await asyncio.sleep(told if told is not None else full_jitter(attempt, base, cap, rng))
    raise AssertionError("unreachable")


async def no_backoff(session, url, attempts, *, base=0.05, cap=1.0, timeout=0.3, rng=None):
    """Honours Retry-After, but otherwise retries at once: no backoff between attempts."""
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            told = retry_after(getattr(exc, "headers", None), longest=cap)
            if told is not None:
                await asyncio.sleep(told)
    raise AssertionError("unreachable")


async def no_jitter(session, url, attempts, *, base=0.05, cap=1.0, timeout=0.3, rng=None):
    """Exponential backoff, capped, but without jitter: every client retries at the same moments."""
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            told = retry_after(getattr(exc, "headers", None), longest=cap)
            await asyncio.sleep(told if told is not None else min(cap, base * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")


async def ignores_retry_after(session, url, attempts, *, base=0.05, cap=1.0, timeout=0.3, rng=None):
    """Always waits its own full jitter, even when the server said Retry-After."""
    rng = rng or random.Random()
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            await asyncio.sleep(full_jitter(attempt, base, cap, rng))
    raise AssertionError("unreachable")


async def one_attempt_too_many(session, url, attempts, *, base=0.05, cap=1.0, timeout=0.3, rng=None):
    """Counts retries, not attempts: range(attempts + 1) makes one request more than allowed."""
    rng = rng or random.Random()
    for attempt in range(attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            told = retry_after(getattr(exc, "headers", None), longest=cap)
            await asyncio.sleep(told if told is not None else full_jitter(attempt + 1, base, cap, rng))
    raise AssertionError("unreachable")


async def retries_cancellation(session, url, attempts, *, base=0.05, cap=1.0, timeout=0.3, rng=None):
    """Treats CancelledError as one more transient failure: the caller's deadline cannot stop it."""
    rng = rng or random.Random()
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json()
        except (aiohttp.ClientError, TimeoutError, asyncio.CancelledError) as exc:
            if attempt == attempts or not (is_transient(exc) or isinstance(exc, asyncio.CancelledError)):
                raise
            told = retry_after(getattr(exc, "headers", None), longest=cap)
            try:
                await asyncio.sleep(told if told is not None else full_jitter(attempt, base, cap, rng))
            except asyncio.CancelledError:
                pass  # "interrupted backoff: just go on"
    raise AssertionError("unreachable")


async def trusts_retry_after(session, url, attempts, *, base=0.05, cap=1.0, timeout=0.3, rng=None):
    """Sleeps whatever number Retry-After holds: "inf" (or "1e9") and the loop never wakes up."""
    rng = rng or random.Random()
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            told = retry_after_trusted(getattr(exc, "headers", None))
            await asyncio.sleep(told if told is not None else full_jitter(attempt, base, cap, rng))
    raise AssertionError("unreachable")


async def caps_but_lets_nan_through(session, url, attempts, *, base=0.05, cap=1.0, timeout=0.3, rng=None):
    """Caps the wait with min(told, cap), but float("nan") survives min(): sleep(nan) hangs (3.11) or raises (3.13)."""
    rng = rng or random.Random()
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(timeout):
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            header = getattr(exc, "headers", None) or {}
            try:
                told: float | None = float(header["Retry-After"])
            except (KeyError, ValueError):
                told = None
            await asyncio.sleep(min(told, cap) if told is not None else full_jitter(attempt, base, cap, rng))
    raise AssertionError("unreachable")


# ------------------------------------------------------------------ pay


async def _post_with_retries(session, url, payment, attempts, key_for_attempt) -> Any:
    rng = random.Random()
    for attempt in range(1, attempts + 1):
        key = key_for_attempt()
        headers = {"Idempotency-Key": key} if key else {}
        try:
            async with asyncio.timeout(1.0):
                async with session.post(url, json=payment, headers=headers) as resp:
                    resp.raise_for_status()
                    return await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            await asyncio.sleep(full_jitter(attempt, 0.02, 0.5, rng))
    raise AssertionError("unreachable")


async def no_key(session, url, payment, *, attempts=4):
    """The notebook's charge() without a key: every retried POST records the payment again."""
    return await _post_with_retries(session, url, payment, attempts, lambda: None)


async def key_per_attempt(session, url, payment, *, attempts=4):
    """A fresh Idempotency-Key for every attempt: the server cannot tell a retry from a new payment."""
    return await _post_with_retries(session, url, payment, attempts, lambda: str(uuid.uuid4()))


PROGRAM_KEY = str(uuid.uuid4())


async def one_key_for_the_program(session, url, payment, *, attempts=4):
    """One key made at import time: the second payment is answered with the first one's record."""
    return await _post_with_retries(session, url, payment, attempts, lambda: PROGRAM_KEY)


async def key_from_the_content(session, url, payment, *, attempts=4):
    """The key is a hash of the payment: two separate payments with the same content collapse into one."""
    key = hashlib.sha256(json.dumps(payment, sort_keys=True).encode()).hexdigest()
    return await _post_with_retries(session, url, payment, attempts, lambda: key)


async def never_retries(session, url, payment, *, attempts=4):
    """A key, but a single attempt: the first 503 is raised to the caller."""
    async with session.post(url, json=payment, headers={"Idempotency-Key": str(uuid.uuid4())}) as resp:
        resp.raise_for_status()
        return await resp.json()


async def returns_none_when_out_of_attempts(session, url, payment, *, attempts=4):
    """Retries with one key, but falls out of the loop and returns None when every attempt failed."""
    key, rng = str(uuid.uuid4()), random.Random()
    for attempt in range(1, attempts + 1):
        async with session.post(url, json=payment, headers={"Idempotency-Key": key}) as resp:
            if resp.ok:
                return await resp.json()
        await asyncio.sleep(full_jitter(attempt, 0.02, 0.5, rng))
    return None


WRONG = [
    Wrong("fetch_with_retries", "the naive loop returns None", naive_loop, r"never fall out of the loop"),
    Wrong("fetch_with_retries", "TimeoutError not retried", client_error_only, r"catch TimeoutError too"),
    Wrong("fetch_with_retries", "retries a 404", retries_every_status, r"do not retry 4xx"),
    Wrong("fetch_with_retries", "no backoff between attempts", no_backoff, r"full_jitter"),
    Wrong("fetch_with_retries", "backoff without jitter", no_jitter, r"jitter.*rng|rng.*jitter"),
    Wrong("fetch_with_retries", "ignores Retry-After", ignores_retry_after, r"Retry-After"),
    Wrong("fetch_with_retries", "one attempt too many", one_attempt_too_many, r"exactly `attempts` attempts"),
    Wrong("fetch_with_retries", "retries a cancellation", retries_cancellation, r"CancelledError"),
    Wrong(
        "fetch_with_retries",
        "sleeps whatever Retry-After says",
        trusts_retry_after,
        r"Retry-After: inf[\s\S]*isfinite",
    ),
    Wrong(
        "fetch_with_retries",
        "caps Retry-After but lets nan through",
        caps_but_lets_nan_through,
        r"Retry-After: nan[\s\S]*isfinite",
    ),
    Wrong("pay", "no Idempotency-Key", no_key, r"Idempotency-Key"),
    Wrong("pay", "a new key per attempt", key_per_attempt, r"same key on every attempt"),
    Wrong("pay", "one key for the whole program", one_key_for_the_program, r"new key for every payment"),
    Wrong("pay", "key hashed from the payment", key_from_the_content, r"content"),
    Wrong("pay", "never retries", never_retries, r"retry the 503"),
    Wrong("pay", "returns None when out of attempts", returns_none_when_out_of_attempts, r"never fall out"),
]

CHECKS = {
    "fetch_with_retries": lambda answer, lab: nb07.check_fetch_with_retries(answer, lab.server),
    "pay": lambda answer, lab: nb07.check_pay(answer, lab.server),
}
