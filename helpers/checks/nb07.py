"""Checks for notebook 07 · Resilient HTTP.

    from helpers.checks import nb07
    await nb07.check_fetch_with_retries(fetch_with_retries, server)   # server = helpers.labserver.start()
    await nb07.check_pay(pay, server)

``check_fetch_with_retries`` scripts the lab server's ``/sequence/{key}?codes=…`` endpoint with a fresh
key per scenario and counts the requests the *server* received, so retries cannot be faked; it also
runs a tiny TCP server of its own that drops every connection, to see connection errors retried, and a
tiny HTTP server that answers 429 with a Retry-After no one should obey (``inf``, ``nan``, ``1e9``, …),
which the lab server never sends.
``check_pay`` resets the lab server (payments included) and reads ``GET /payments`` after each call.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from helpers.checks import Hung, exercise, expect, outcome

__all__ = ["check_fetch_with_retries", "check_pay"]

_NO_NONE_HINT = "after the last attempt, re-raise the last error (or raise your own naming the status); never fall out of the loop"


def _names_status(exc: BaseException, status: int) -> bool:
    """Does the error (or what it was raised from) say which status ended the attempts?"""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, aiohttp.ClientResponseError) and seen.status == status:
            return True
        if str(status) in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _shown(exc: BaseException | None) -> str:
    if exc is None:
        return "nothing"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"ClientResponseError {exc.status}"
    return type(exc).__name__


# ------------------------------------------------------------------ fetch_with_retries


class _HighRng(random.Random):
    """A generator that always draws (almost) 1.0 and counts its draws: full jitter then waits its
    whole window, so the waits are known in advance, and a loop that never draws is seen."""

    def __init__(self) -> None:
        super().__init__(7)
        self.draws = 0

    def random(self) -> float:
        self.draws += 1
        return 1.0 - 1e-9


@exercise("fetch_with_retries", timeout=40)
async def check_fetch_with_retries(fetch_with_retries: Callable[..., Awaitable[Any]], server: Any) -> str:
    run = uuid.uuid4().hex[:10]
    attempts = 4

    def count(path: str) -> int:
        return server.stats()["per_path"].get(path, 0)

    async with aiohttp.ClientSession() as session:

        async def call(
            query_or_url: str, n: int = attempts, limit: float = 8.0, **kw: Any
        ) -> tuple[Any, BaseException | None, str]:
            key = f"nb07-{run}-{uuid.uuid4().hex[:6]}"
            path = f"/sequence/{key}"
            url = query_or_url if query_or_url.startswith("http") else f"{server.url}{path}?{query_or_url}"
            options = {"base": 0.01, "cap": 0.1, "timeout": 0.5, "rng": random.Random(7)} | kw
            value, exc = await outcome(fetch_with_retries(session, url, n, **options), limit=limit)
            if isinstance(exc, Hung):
                expect(
                    False,
                    f"fetch_with_retries did not finish within {limit:g} s",
                    "bound each attempt with `async with asyncio.timeout(timeout):` and keep the waits small (use `base`)",
                )
            return value, exc, path

        # 1. Two 503s, then 200: success on the third attempt.
        value, exc, path = await call("codes=503,503,200")
        expect(
            exc is None, f"503, 503, 200 ended in {_shown(exc)}", "a 503 is transient: wait, then try again"
        )
        expect(
            isinstance(value, dict),
            f"503, 503, 200 returned {value!r}",
            "return the JSON body: `return await resp.json()`",
        )
        expect(
            value.get("attempt") == 3 and count(path) == 3,
            f"503, 503, 200 took {count(path)} requests",
            "retry each 503 once, and stop at the first 200",
        )

        # 2. 503 forever, five attempts: raise after exactly five requests, naming the status.
        high = _HighRng()
        backoff_base, backoff_cap = 0.02, 0.05
        value, exc, path = await call("codes=503", n=5, base=backoff_base, cap=backoff_cap, rng=high)
        expect(
            exc is not None,
            f"after {count(path)} answers of 503 fetch_with_retries returned {value!r}",
            _NO_NONE_HINT,
        )
        expect(
            count(path) == 5,
            f"503 forever: the server got {count(path)} requests for attempts=5",
            "make exactly `attempts` attempts, no more, no fewer",
        )
        expect(
            exc is not None and _names_status(exc, 503),
            f"503 forever raised {type(exc).__name__} without naming the status 503",
            "re-raise the last ClientResponseError (its .status is 503), or put the status in your message",
        )
        # With `high`, full jitter waits its whole window: base·2^(attempt-1), capped.
        windows = [min(backoff_cap, backoff_base * 2 ** (k - 1)) for k in range(1, 5)]
        starts = [r.started for r in server.requests(path)]
        gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
        short = [(g, w) for g, w in zip(gaps, windows, strict=False) if g < 0.9 * w]
        expect(
            not short,
            "503 forever: a retry reached the server "
            + (
                f"{short[0][0] * 1000:.0f} ms after the previous attempt, where the backoff was {short[0][1] * 1000:.0f} ms"
                if short
                else ""
            ),
            "wait between attempts: asyncio.sleep(full_jitter(attempt, base, cap, rng)), which grows with each attempt",
        )
        expect(
            high.draws > 0,
            "503 forever: four waits, and not one number was drawn from the rng you were given",
            "add jitter with the given rng, full_jitter(attempt, base, cap, rng): without it every client retries "
            "at the same moments (and a seeded rng makes a run reproducible)",
        )

        # 3. No answer, then 200: the timed-out attempt is retried.
        value, exc, path = await call("codes=hang,200", timeout=0.2, limit=3.0)
        expect(
            exc is None,
            f"a hang, then 200, ended in {_shown(exc)} after {count(path)} request(s)",
            "a timeout is transient: catch TimeoutError too (it is not an aiohttp.ClientError) and retry",
        )
        expect(
            isinstance(value, dict) and value.get("attempt") == 2 and count(path) == 2,
            f"a hang, then 200, took {count(path)} requests",
            "cut the hanging attempt after `timeout` seconds, then try once more",
        )

        # 4. 404: raised at once, never retried.
        value, exc, path = await call("codes=404")
        expect(
            count(path) == 1,
            f"a 404 was requested {count(path)} times",
            "a 404 will not change: do not retry 4xx other than 429",
        )
        expect(
            exc is not None,
            f"a 404 returned {value!r}",
            "raise for a 404 (resp.raise_for_status() does), so the caller knows",
        )

        # 5. A page that is not JSON: a bug in the request, not a transient failure.
        before = count("/html")
        value, exc, _ = await call(f"{server.url}/html")
        expect(
            count("/html") - before == 1,
            f"an HTML page (JSON expected) was requested {count('/html') - before} times",
            "retry only transient failures; a ContentTypeError from resp.json() will not go away (no `except Exception`)",
        )
        expect(
            exc is not None, f"an HTML page returned {value!r}", "let the error from resp.json() propagate"
        )

        # 6. 429 with Retry-After: the next request waits at least that long (server clock). cap=1.0,
        # because a good answer never waits longer than `cap`, Retry-After included.
        value, exc, path = await call("codes=429,200&retry_after=0.3", limit=6.0, cap=1.0)
        expect(
            exc is None and isinstance(value, dict) and value.get("attempt") == 2,
            f"429 (Retry-After: 0.3), then 200, ended in {_shown(exc) if exc else repr(value)}",
            "429 means 'come back later': retry it",
        )
        starts = [r.started for r in server.requests(path)]
        gap = starts[1] - starts[0] if len(starts) > 1 else 0.0
        expect(
            gap >= 0.3 - 0.005,
            f"the retry came {gap:.3f} s after the 429, but the server said Retry-After: 0.3",
            "read the header (retry_after(exc.headers)) and sleep that long instead of your own backoff",
        )
        expect(
            gap < 0.3 + 0.4,
            f"the retry came {gap:.2f} s after the 429, but the server said Retry-After: 0.3",
            "sleep what Retry-After says (retry_after() returns seconds), not longer",
        )

        # 7. The caller's deadline: its cancellation must end the retrying, not be retried.
        key = f"nb07-{run}-deadline"
        deadline, started = 0.2, time.perf_counter()
        try:
            async with asyncio.timeout(deadline):
                await outcome(
                    fetch_with_retries(
                        session,
                        f"{server.url}/sequence/{key}?codes=503",
                        50,
                        base=0.01,
                        cap=0.05,
                        timeout=0.5,
                        rng=random.Random(7),
                    ),
                    limit=5.0,
                )
        except TimeoutError:
            pass
        late = [r for r in server.requests(f"/sequence/{key}") if r.started > started + deadline + 0.1]
        expect(
            len(late) <= 1,
            f"after the caller's {deadline} s deadline, {len(late)} more requests reached the server",
            "never retry asyncio.CancelledError (nor catch BaseException): when the caller's deadline cancels "
            "your task, let the cancellation out",
        )

    # 8. A server that drops every connection: connection errors are retried too.
    dropped = 0

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal dropped
        dropped += 1
        writer.close()

    rude = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = rude.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            value, exc = await outcome(
                fetch_with_retries(
                    session,
                    f"http://127.0.0.1:{port}/x",
                    3,
                    base=0.01,
                    cap=0.1,
                    timeout=0.5,
                    rng=random.Random(7),
                ),
                limit=8.0,
            )
    finally:
        rude.close()
        await rude.wait_closed()
    expect(
        exc is not None and not isinstance(exc, Hung),
        f"a server that drops every connection gave {value!r}",
        _NO_NONE_HINT,
    )
    # aiohttp itself resends an idempotent request once on a dropped kept-alive connection, so count generously.
    expect(
        dropped >= 3,
        f"a dropped connection was tried {dropped} time(s) with attempts=3",
        "connection errors (aiohttp.ClientConnectionError, e.g. ServerDisconnectedError) are transient: retry them",
    )

    # 9. Retry-After values no one should obey: the next attempt must still come, within `cap`.
    await _survives_bad_retry_after(fetch_with_retries)
    return "retries 503, timeouts, 429 (after Retry-After) and dropped connections; raises for 404, bad JSON and exhausted attempts"


# Each is float()-able or a valid date, so a parser that trusts the header sleeps for ever (inf), for
# decades (1e9) or until the year 9999; asyncio.sleep(nan) never returns on 3.11 and raises ValueError on 3.13.
BAD_RETRY_AFTER = ("inf", "nan", "1e9", "-3", "86400", "Fri, 31 Dec 9999 23:59:59 GMT")
_TRUST_HINT = (
    "never sleep what a Retry-After header says unchecked: float() accepts 'inf', 'nan' and '1e9'. Refuse "
    "a value that is not finite (math.isfinite) or is negative, and wait at most `cap`: "
    "retry_after(headers, longest=cap)"
)


class _OddRetryAfter:
    """A tiny HTTP server on 127.0.0.1: ``GET /{i}`` answers 429 with ``Retry-After: BAD_RETRY_AFTER[i]``
    the first time, then 200 with ``{"attempt": n}``; ``arrivals[i]`` holds when each request came."""

    def __init__(self) -> None:
        self.arrivals: dict[int, list[float]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        times = self.arrivals.setdefault(index, [])
        times.append(time.perf_counter())
        if len(times) == 1:
            return web.Response(status=429, headers={"Retry-After": BAD_RETRY_AFTER[index]})
        return web.json_response({"attempt": len(times)})

    async def __aenter__(self) -> _OddRetryAfter:
        app = web.Application()
        app.router.add_get("/{index}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def _survives_bad_retry_after(fetch_with_retries: Callable[..., Awaitable[Any]]) -> None:
    cap, limit = 0.1, 2.0
    async with _OddRetryAfter() as odd, aiohttp.ClientSession() as session:
        for index, header in enumerate(BAD_RETRY_AFTER):
            value, exc = await outcome(
                fetch_with_retries(
                    session, f"{odd.url}/{index}", 3, base=0.01, cap=cap, timeout=0.5, rng=random.Random(7)
                ),
                limit=limit,
            )
            expect(
                not isinstance(exc, Hung),
                f"after a 429 with Retry-After: {header}, fetch_with_retries was still waiting {limit:g} s later",
                _TRUST_HINT,
            )
            expect(
                exc is None and isinstance(value, dict) and value.get("attempt") == 2,
                f"a 429 with Retry-After: {header}, then 200, ended in {_shown(exc) if exc else repr(value)}",
                _TRUST_HINT
                if isinstance(exc, ValueError)  # asyncio.sleep(nan) on Python 3.13+
                else "an unusable or absurd Retry-After is no reason to give up: wait at most `cap` (your own "
                "backoff when the header is unusable), then try again",
            )
            first, second = odd.arrivals[index][:2]
            expect(
                second - first <= cap + 0.5,
                f"after Retry-After: {header} the retry came {second - first:.2f} s later, with cap={cap:g}",
                _TRUST_HINT,
            )


# ------------------------------------------------------------------ pay


async def _payments(session: aiohttp.ClientSession, server: Any) -> list[dict[str, Any]]:
    async with session.get(f"{server.url}/payments") as resp:
        resp.raise_for_status()
        return (await resp.json())["payments"]


@exercise("pay", timeout=40)
async def check_pay(pay: Callable[..., Awaitable[Any]], server: Any) -> str:
    server.reset()  # payments and the per-key failure counters start from nothing
    run = uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as session:

        def recorded(payments: list[dict[str, Any]], order: object) -> list[dict[str, Any]]:
            return [
                p for p in payments if isinstance(p.get("data"), dict) and p["data"].get("order") == order
            ]

        # 1. Three attempts needed (fail=2): one payment.
        first = {"order": f"{run}-1", "amount": 1250}
        value, exc = await outcome(
            pay(session, f"{server.url}/payments?fail=2", first, attempts=4), limit=10.0
        )
        copies = recorded(await _payments(session, server), first["order"])
        posts = len([r for r in server.requests("/payments") if r.method == "POST"])
        same_key_hint = (
            "send an Idempotency-Key header, the same key on every attempt of one payment "
            "(uuid.uuid4() once, before the loop)"
        )
        keys = {p.get("idempotency_key") for p in copies}
        expect(
            len(copies) <= 1 or keys != {None},
            f"one payment was recorded {len(copies)} times: its attempts carried no Idempotency-Key header",
            same_key_hint,
        )
        expect(
            len(copies) <= 1,
            f"one payment was recorded {len(copies)} times, under {len(keys)} different Idempotency-Keys",
            "make the key once per payment, before the retry loop, and send that same key on every attempt",
        )
        expect(
            exc is None,
            f"a payment that needed three attempts ended in {_shown(exc)} after {posts} POST(s)",
            "retry the 503 answers (a 503 is transient) with a small backoff",
        )
        expect(len(copies) == 1, f"one payment was recorded {len(copies)} times", same_key_hint)
        expect(
            isinstance(value, dict) and value.get("id") == copies[0]["id"],
            f"pay returned {value!r}",
            "return the server's JSON answer: `return await resp.json()`",
        )

        # 2. Two different payments: two records, so two different keys.
        second = {"order": f"{run}-2", "amount": 990}
        value, exc = await outcome(
            pay(session, f"{server.url}/payments?fail=1", second, attempts=4), limit=10.0
        )
        payments = await _payments(session, server)
        expect(exc is None, f"a second payment ended in {_shown(exc)}", "retry the 503 answers")
        expect(
            len(recorded(payments, second["order"])) == 1,
            f"the second payment was recorded {len(recorded(payments, second['order']))} times "
            "(the server replayed an earlier payment for its key)",
            "make a new key for every payment: inside pay, not once for the whole program",
        )

        # 3. Failing every attempt: raise, and still only one record.
        third = {"order": f"{run}-3", "amount": 5}
        value, exc = await outcome(
            pay(session, f"{server.url}/payments?fail=50", third, attempts=3), limit=10.0
        )
        copies = recorded(await _payments(session, server), third["order"])
        expect(
            exc is not None and not isinstance(exc, Hung),
            f"a payment refused on every attempt gave {value!r}",
            _NO_NONE_HINT,
        )
        expect(
            len(copies) == 1,
            f"a payment retried three times was recorded {len(copies)} times",
            "use one Idempotency-Key for all attempts of a payment",
        )

        # 4. Two separate payments with the same content (the same coffee, bought twice): two records.
        twice = {"order": f"{run}-4", "amount": 350}
        for _ in range(2):
            value, exc = await outcome(
                pay(session, f"{server.url}/payments", dict(twice), attempts=2), limit=10.0
            )
            expect(
                exc is None,
                f"a payment with no failures ended in {_shown(exc)}",
                "return the server's answer",
            )
        copies = recorded(await _payments(session, server), twice["order"])
        expect(
            len(copies) == 2,
            f"two separate payments with the same content were recorded {len(copies)} time(s), not twice",
            "a key derived from the payment's content is the same for two payments that look alike: make a "
            "fresh key (uuid.uuid4()) in each call of pay",
        )
    return "each payment recorded exactly once, however many attempts; failures raise"
