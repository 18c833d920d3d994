"""The lab server: a local stand-in for the internet, with statistics.

    from helpers import labserver
    with labserver.start() as server:          # a background thread, its own loop
        ...  # async with session.get(f"{server.url}/delay/0.5") as resp: ...
        server.stats()["peak_in_flight"]       # what the server saw

The server listens on 127.0.0.1 (a free port unless you pass one) in a daemon
thread with its own event loop, so a notebook cell that blocks its own loop
(``time.sleep`` in a coroutine) does not freeze the server.  ``GET /`` lists
every endpoint.

It is an offline stand-in for httpbin: httpbin's documented endpoints answer
with its status codes, headers and JSON shapes (``tests/test_httpbin_parity.py``
checks them side by side with the real ``httpbin``).  This module serves the
ones the notebooks use (``/get /post /anything /headers /uuid /json /html
/status /delay /bytes /stream-bytes /drip /redirect /redirect-to``, and
``/robots.txt /deny`` from the crawl site); ``helpers.labserver_httpbin`` adds
the rest (``/put /patch /delete /ip /user-agent /response-headers /cache
/etag /xml /encoding/utf8 /gzip /deflate /base64 /links /range /stream
/cookies /basic-auth /hidden-basic-auth /bearer /relative-redirect
/absolute-redirect /image /forms/post``).  Where the notebooks print what an
endpoint answers, the lab keeps its own content (``/json``'s slideshow,
``/html``, ``/robots.txt``, ``/status/{code}``'s one-line body, ``/redirect/{n}``'s
chain), with httpbin's shape.  Not served: ``/brotli`` (a 501: it needs a
package the course does not ship) and ``/digest-auth``.  On top of httpbin come
the lab's own endpoints: slow and broken bodies, fault injection (``/flaky``,
``/sequence``, ``/ratelimit``, ``/unreliable``, ``/hang``), payments, the crawl site.

Bad input is answered with a 4xx and a one-line plain-text reason, never a 500
or a hang.  Fault-injection state is kept per ``key`` so two demos do not
interfere, and ``reset()`` clears it together with the statistics.  A request
the client abandons (it timed out or was cancelled) is recorded with status
499, nginx's "client closed request".

Run it on its own with ``python -m helpers labserver --port 8765``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import logging
import math
import random
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from . import crawlsite

__all__ = ["LabServer", "RequestRecord", "start", "main"]

_T = TypeVar("_T")

MAX_DELAY = 10.0  # seconds, /delay, /drip, /slow-body
MAX_BYTES = 10 * 1024 * 1024  # /bytes, /stream-bytes
MAX_DRIP_BYTES = 1024 * 1024
MAX_REDIRECTS = 20
MAX_FAIL = 1000  # /flaky ?fail=, /payments ?fail=
HANG_SECONDS = 60.0  # /hang gives up after this and answers 504
MAX_RECORDS = 100_000  # requests() keeps the most recent ones
SHUTDOWN_TIMEOUT = 0.1  # stop() waits this long for open requests
CLIENT_CLOSED = 499  # status recorded when the client gives up

# Library etiquette: our log records go nowhere unless the application
# configures logging, so nothing the server does ever prints into a notebook.
logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class RequestRecord:
    """One finished request; times are ``time.perf_counter()`` in this process."""

    method: str
    path: str
    query: str
    status: int
    started: float
    finished: float

    @property
    def duration(self) -> float:
        return self.finished - self.started


# ------------------------------------------------------------------------- state


class _State:
    """Statistics and fault-injection state, shared between two threads.

    Handlers run on the server's loop thread; ``stats()`` and ``reset()`` are
    called from the notebook's thread.  Every access holds ``lock``, and no
    code awaits while holding it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.clear()

    def clear(self) -> None:
        """Forget everything except the requests in flight, which still have to finish."""
        with self.lock:
            self.total = 0
            self.per_path: Counter[str] = Counter()
            self.peak_in_flight = self.in_flight
            self.connections = 0
            self.status_counts: Counter[int] = Counter()
            self.records: deque[RequestRecord] = deque(maxlen=MAX_RECORDS)
            # Fault injection, per key.
            self.calls: Counter[tuple[str, str]] = Counter()  # (endpoint, key) -> calls so far
            self.windows: dict[str, tuple[float, int]] = {}  # ratelimit key -> (opened, granted)
            self.dice: dict[tuple[str, int], random.Random] = {}
            self.payments: list[dict[str, Any]] = []
            self.payment_by_key: dict[str, dict[str, Any]] = {}

    def next_call(self, endpoint: str, key: str) -> int:
        """Count one more call to ``endpoint`` for ``key``; return its number (1, 2, ...)."""
        with self.lock:
            self.calls[endpoint, key] += 1
            return self.calls[endpoint, key]

    def connection_opened(self) -> None:
        with self.lock:
            self.connections += 1

    def request_started(self, path: str) -> float:
        with self.lock:
            self.total += 1
            self.per_path[path] += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return time.perf_counter()

    def request_finished(self, request: web.BaseRequest, status: int, started: float) -> None:
        record = RequestRecord(
            request.method, request.path, request.query_string, status, started, time.perf_counter()
        )
        with self.lock:
            self.in_flight -= 1
            self.status_counts[status] += 1
            self.records.append(record)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "total": self.total,
                "per_path": dict(self.per_path),
                "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight,
                "connections": self.connections,
                "status_counts": dict(self.status_counts),
            }


STATE = web.AppKey("state", _State)


# -------------------------------------------------------------------- middleware


@web.middleware
async def _observe(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Count every request, and turn an unexpected exception into a 500 with a reason."""
    state = request.app[STATE]
    started = state.request_started(request.path)
    # If neither a response nor an exception sets it, the handler was
    # cancelled: the client closed the connection before we answered.
    status = CLIENT_CLOSED
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # our 4xx answers and the router's 404/405
        status = exc.status
        raise
    except ConnectionResetError:  # the client hung up while the body was being written: not our bug
        return web.Response(status=CLIENT_CLOSED)  # status stays CLIENT_CLOSED; nobody reads this answer
    except Exception as exc:  # the catch-all this middleware exists for
        logger.exception("lab server bug while handling %s %s", request.method, request.path)
        status = 500
        return web.Response(status=500, text=f"500: lab server error: {type(exc).__name__}: {exc}")
    finally:
        state.request_finished(request, status, started)


# ---------------------------------------------------------------- input parsing


def _bad(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f"400: {reason}")


def _number(raw: str, what: str, lo: float, hi: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _bad(f"{what} must be a number between {lo:g} and {hi:g}, got {raw!r}") from None
    if not (math.isfinite(value) and lo <= value <= hi):
        raise _bad(f"{what} must be between {lo:g} and {hi:g}, got {raw!r}")
    return value


def _integer(raw: str, what: str, lo: int, hi: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"{what} must be a whole number between {lo} and {hi}, got {raw!r}") from None
    if not lo <= value <= hi:
        raise _bad(f"{what} must be between {lo} and {hi}, got {raw!r}")
    return value


def _query_number(request: web.Request, name: str, default: float, lo: float, hi: float) -> float:
    raw = request.query.get(name)
    return default if raw is None else _number(raw, f"?{name}=", lo, hi)


def _query_integer(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    return default if raw is None else _integer(raw, f"?{name}=", lo, hi)


def _status_list(raw: str, what: str, *, allow_hang: bool = False) -> list[int | str]:
    codes: list[int | str] = []
    for token in raw.split(","):
        token = token.strip()
        if allow_hang and token == "hang":
            codes.append(token)
        else:
            codes.append(_integer(token, f"{what} (each status)", 200, 599))
    if len(codes) > 100:
        raise _bad(f"{what} may list at most 100 statuses")
    return codes


def _key(request: web.Request) -> str:
    key = request.match_info["key"]
    if len(key) > 200:
        raise _bad("key may be at most 200 characters long")
    return key


# ------------------------------------------------------------- httpbin-style echo

# Proxy headers httpbin leaves out of the echoed headers unless ``?show_env`` is given.
_ENV_HEADERS = frozenset(
    name.lower()
    for name in (
        "X-Varnish X-Request-Start X-Heroku-Queue-Depth X-Real-Ip X-Forwarded-Proto X-Forwarded-Protocol "
        "X-Forwarded-Ssl X-Heroku-Queue-Wait-Time X-Forwarded-For X-Heroku-Dynos-In-Use X-Forwarded-Port "
        "X-Request-Id Via Total-Route-Time Connect-Time"
    ).split()
)


def _semiflatten(pairs: Iterable[tuple[str, _T]]) -> dict[str, _T | list[_T]]:
    # httpbin's shape: a single value as is, a repeated one as a list.
    grouped: dict[str, list[_T]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}


def _args(request: web.Request) -> dict[str, str | list[str]]:
    return _semiflatten(request.query.items())


def _headers(request: web.Request) -> dict[str, str]:
    # Names as httpbin (Werkzeug) spells them: "x-demo" is echoed as "X-Demo".
    show_env = "show_env" in request.query
    return {
        name.title(): ", ".join(request.headers.getall(name))
        for name in request.headers
        if show_env or name.lower() not in _ENV_HEADERS
    }


def _origin(request: web.Request) -> str | None:
    return request.headers.get("X-Forwarded-For", request.remote)


def _json_safe(raw: bytes, content_type: str = "application/octet-stream") -> str:
    # httpbin's rule: UTF-8 as text, anything else as a base64 "data:" URL (RFC 2397).
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"data:{content_type};base64,{base64.b64encode(raw).decode('ascii')}"


def _echo(request: web.Request) -> dict[str, Any]:
    return {
        "args": _args(request),
        "headers": _headers(request),
        "origin": _origin(request),
        "url": str(request.url),
    }


async def _echo_with_body(request: web.Request) -> dict[str, Any]:
    raw = b""
    form: list[tuple[str, str]] = []
    files: list[tuple[str, str]] = []
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # post() must see the body first: a multipart body can be read only once.
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                content_type = value.content_type or "application/octet-stream"
                files.append((name, _json_safe(value.file.read(), content_type)))
            else:
                form.append((name, str(value)))
    else:
        raw = await request.read()
    try:
        parsed = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:  # like httpbin: a body that is not JSON (or not UTF-8) gives "json": null
        parsed = None
    return {
        **_echo(request),
        "data": _json_safe(raw),
        "files": _semiflatten(files),
        "form": _semiflatten(form),
        "json": parsed,
    }


async def _handle_index(request: web.Request) -> web.Response:
    return web.Response(text=_INDEX)


async def _handle_get(request: web.Request) -> web.Response:
    return web.json_response(_echo(request))


async def _handle_post(request: web.Request) -> web.Response:
    return web.json_response(await _echo_with_body(request))


async def _handle_anything(request: web.Request) -> web.Response:
    return web.json_response({**await _echo_with_body(request), "method": request.method})


async def _handle_headers(request: web.Request) -> web.Response:
    return web.json_response({"headers": _headers(request)})


async def _handle_uuid(request: web.Request) -> web.Response:
    return web.json_response({"uuid": str(uuid.uuid4())})


_SLIDESHOW = {
    "slideshow": {
        "author": "The asyncio lab",
        "date": "Every day",
        "title": "Waiting without blocking",
        "slides": [
            {"title": "One loop, many tasks", "type": "all"},
            {
                "title": "Why await?",
                "type": "all",
                "items": ["It hands control back to the loop", "Blocking calls never do"],
            },
        ],
    }
}


async def _handle_json(request: web.Request) -> web.Response:
    return web.json_response(_SLIDESHOW)


_HTML = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>The lab server</title></head>
<body><h1>Hello from the lab server</h1>
<p>Everything in these notebooks talks to this local server instead of the internet.</p>
</body></html>
"""


async def _handle_html(request: web.Request) -> web.Response:
    return web.Response(text=_HTML, content_type="text/html")


# -------------------------------------------------------------- timing and bytes


async def _handle_delay(request: web.Request) -> web.Response:
    seconds = _number(request.match_info["seconds"], "/delay/{seconds}", 0, MAX_DELAY)
    await asyncio.sleep(seconds)
    echo = await _echo_with_body(request)
    del echo["json"]  # httpbin's /delay echoes everything but "json"
    return web.json_response(echo)


async def _handle_hang(request: web.Request) -> web.Response:
    # Module attribute read at request time, so tests can shorten it.
    await asyncio.sleep(HANG_SECONDS)
    raise web.HTTPGatewayTimeout(text=f"504: /hang gave up after {HANG_SECONDS:g} s")


def _weighted_status_list(raw: str, what: str) -> tuple[list[int], list[float]]:
    """httpbin's ``503:0.3,200:0.7``: statuses with weights (a missing weight counts 1)."""
    codes: list[int] = []
    weights: list[float] = []
    for token in raw.split(","):
        code, _, weight = token.strip().partition(":")
        codes.append(_integer(code.strip(), f"{what} (each status)", 200, 599))
        weights.append(_number(weight.strip() or "1", f"{what} (each weight)", 0, 1e6))
    if len(codes) > 100:
        raise _bad(f"{what} may list at most 100 statuses")
    if not sum(weights) > 0:
        raise _bad(f"{what} needs at least one weight above 0")
    return codes, weights


async def _handle_status(request: web.Request) -> web.Response:
    raw = request.match_info["codes"]
    if ":" in raw:  # with weights: a random pick, as in httpbin
        choices, weights = _weighted_status_list(raw, "/status/{codes}")
        return _status_response(random.choices(choices, weights)[0])
    codes = _status_list(raw, "/status/{codes}")
    # A list is answered in order, cycling; each distinct list keeps its own place.
    spec = ",".join(map(str, codes))
    status = codes[(request.app[STATE].next_call("status", spec) - 1) % len(codes)]
    return _status_response(int(status))


# What httpbin's /status/406 answers (and /image, for an Accept it cannot serve).
NOT_ACCEPTABLE = {
    "message": "Client did not request a supported media type.",
    "accept": ["image/webp", "image/svg+xml", "image/jpeg", "image/png", "image/*"],
}

# Challenge headers httpbin adds, so a client's auth handling has something to react to.
_STATUS_HEADERS = {
    401: {"WWW-Authenticate": 'Basic realm="Fake Realm"'},
    407: {"Proxy-Authenticate": 'Basic realm="Fake Realm"'},
}


def _status_response(status: int, json_body: dict[str, Any] | None = None) -> web.Response:
    if status in (204, 304):
        return web.Response(status=status)  # these statuses must not carry a body
    if json_body is None and status == 406:
        json_body = NOT_ACCEPTABLE
    response = (
        web.json_response(json_body, status=status)
        if json_body is not None
        else web.Response(status=status, text=f"{status}\n")
    )
    response.headers.update(_STATUS_HEADERS.get(status, {}))
    if status in (301, 302, 303, 307, 308):
        response.headers["Location"] = "/get"  # so a redirect goes somewhere (httpbin: /redirect/1)
    return response


@functools.lru_cache(maxsize=4)
def _seeded_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _bytes_request(request: web.Request) -> bytes:
    n = _integer(request.match_info["n"], "n", 0, MAX_BYTES)
    seed = _query_integer(request, "seed", 0, 0, 2**63 - 1)
    return _seeded_bytes(n, seed)


async def _handle_bytes(request: web.Request) -> web.Response:
    return web.Response(body=_bytes_request(request), content_type="application/octet-stream")


async def _answered_head(request: web.Request, response: web.StreamResponse) -> bool:
    """End a prepared streaming response at its headers when the request is HEAD.

    A streaming handler that went on writing its body after HEAD would leave bytes on the
    connection that the client reads as the start of its next response.
    """
    if request.method != "HEAD":
        return False
    await response.write_eof()
    return True


async def _handle_stream_bytes(request: web.Request) -> web.StreamResponse:
    data = _bytes_request(request)  # the same bytes as /bytes/{n} with the same seed
    chunk_size = _query_integer(request, "chunk_size", 10 * 1024, 1, 1024 * 1024)
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    if await _answered_head(request, response):
        return response
    for offset in range(0, len(data), chunk_size):
        await response.write(data[offset : offset + chunk_size])
    await response.write_eof()
    return response


async def _handle_drip(request: web.Request) -> web.StreamResponse:
    numbytes = _query_integer(request, "numbytes", 10, 0, MAX_DRIP_BYTES)
    duration = _query_number(request, "duration", 2.0, 0, MAX_DELAY)
    delay = _query_number(request, "delay", 0.0, 0, MAX_DELAY)
    status = _query_integer(request, "code", 200, 200, 599)
    await asyncio.sleep(delay)
    response = web.StreamResponse(status=status, headers={"Content-Type": "application/octet-stream"})
    response.content_length = numbytes
    await response.prepare(request)
    if await _answered_head(request, response):
        return response
    # At most 100 writes, evenly spaced over `duration`: a drip, not a busy loop.
    pieces = min(numbytes, 100)
    for i in range(pieces):
        size = numbytes * (i + 1) // pieces - numbytes * i // pieces
        await asyncio.sleep(duration / pieces)
        await response.write(b"*" * size)
    await response.write_eof()
    return response


async def _handle_slow_body(request: web.Request) -> web.StreamResponse:
    """Headers at once, then the body after ``?delay=`` seconds (a sock_read timeout demo)."""
    n = _integer(request.match_info["n"], "/slow-body/{n}", 0, MAX_DRIP_BYTES)
    delay = _query_number(request, "delay", 1.0, 0, MAX_DELAY)
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = n
    await response.prepare(request)
    if await _answered_head(request, response):
        return response
    await asyncio.sleep(delay)
    await response.write(_seeded_bytes(n, 0))
    await response.write_eof()
    return response


async def _handle_truncated(request: web.Request) -> web.StreamResponse:
    """Promise ``n`` bytes (Content-Length), send ``?after=`` of them, then drop the connection."""
    n = _integer(request.match_info["n"], "/truncated/{n}", 1, MAX_BYTES)
    after = _query_integer(request, "after", n // 2, 0, n - 1)
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = n
    await response.prepare(request)
    if await _answered_head(request, response):
        return response
    await response.write(_seeded_bytes(n, 0)[:after])
    await asyncio.sleep(0.05)  # let the first part reach the client before the cut
    if request.transport is not None:  # like a server that crashed or a proxy that timed out mid-body
        request.transport.close()
    return response


async def _handle_redirect(request: web.Request) -> web.Response:
    n = _integer(request.match_info["n"], "/redirect/{n}", 1, MAX_REDIRECTS)
    if request.query.get("absolute", "false").lower() == "true":  # httpbin's ?absolute=true
        base = f"{request.scheme}://{request.host}"
        raise web.HTTPFound(f"{base}/get" if n == 1 else f"{base}/absolute-redirect/{n - 1}")
    location = "/get" if n == 1 else f"/redirect/{n - 1}"
    raise web.HTTPFound(location)


async def _handle_redirect_to(request: web.Request) -> web.Response:
    url = request.query.get("url")
    # Same-server paths only: the lab must never send a client onto the real internet.
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        raise _bad("?url= must be a path on this server, starting with a single '/'")
    status = _query_integer(request, "status_code", 302, 300, 308)
    if status not in (301, 302, 303, 307, 308):
        raise _bad("?status_code= must be one of 301, 302, 303, 307, 308")
    return web.Response(status=status, headers={"Location": url})


# --------------------------------------------------------------- fault injection


async def _handle_flaky(request: web.Request) -> web.Response:
    key = _key(request)
    fail = _query_integer(request, "fail", 1, 0, MAX_FAIL)
    attempt = request.app[STATE].next_call("flaky", key)
    ok = attempt > fail
    return web.json_response(
        {"key": key, "attempt": attempt, "fail": fail, "ok": ok}, status=200 if ok else 503
    )


async def _handle_sequence(request: web.Request) -> web.Response:
    key = _key(request)
    codes = _status_list(request.query.get("codes", "200"), "?codes=", allow_hang=True)
    retry_after = request.query.get("retry_after")
    if retry_after is not None:
        _number(retry_after, "?retry_after=", 0, 3600)
    attempt = request.app[STATE].next_call("sequence", key)
    status = codes[min(attempt, len(codes)) - 1]  # in order, then the last one forever
    if status == "hang":
        return await _handle_hang(request)
    response = _status_response(int(status), {"key": key, "attempt": attempt, "status": status})
    if retry_after is not None and status in (429, 503):
        response.headers["Retry-After"] = retry_after
    return response


def _seconds_header(seconds: float) -> str:
    # Whole seconds stay whole ("2"); otherwise milliseconds, rounded up ("0.437").
    millis = max(1, math.ceil(seconds * 1000))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis / 1000:.3f}".rstrip("0")


async def _handle_ratelimit(request: web.Request) -> web.Response:
    key = _key(request)
    limit = _query_integer(request, "limit", 5, 1, 10_000)
    window = _query_number(request, "window", 1.0, 0.001, 3600)
    state = request.app[STATE]
    now = time.perf_counter()
    # Fixed window: it opens with the first request and lasts `window`
    # seconds; the first request after it closes opens the next one.
    with state.lock:
        opened, granted = state.windows.get(key, (now, 0))
        if now - opened >= window:
            opened, granted = now, 0
        allowed = granted < limit
        state.windows[key] = (opened, granted + allowed)
    left = opened + window - now
    body = {
        "key": key,
        "limit": limit,
        "window": window,
        "remaining": max(0, limit - granted - 1),
        "reset": round(left, 3),
    }
    if allowed:
        return web.json_response(body)
    return web.json_response(
        {**body, "remaining": 0, "retry_after": round(left, 3)},
        status=429,
        headers={"Retry-After": _seconds_header(left)},
    )


async def _handle_unreliable(request: web.Request) -> web.Response:
    key = _key(request)
    p = _query_number(request, "p", 0.3, 0, 1)
    seed = _query_integer(request, "seed", 0, 0, 2**63 - 1)
    state = request.app[STATE]
    with state.lock:
        # One random stream per (key, seed): the same calls fail on every run.
        dice = state.dice.setdefault((key, seed), random.Random(f"{key}:{seed}"))
        failed = dice.random() < p
        state.calls["unreliable", key] += 1
        attempt = state.calls["unreliable", key]
    return web.json_response(
        {"key": key, "attempt": attempt, "ok": not failed}, status=503 if failed else 200
    )


# ------------------------------------------------------------------ idempotency


async def _handle_create_payment(request: web.Request) -> web.Response:
    fail = _query_integer(request, "fail", 0, 0, MAX_FAIL)
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:  # includes a body that is not UTF-8
        raise _bad("the request body must be JSON (or empty)") from None
    key = request.headers.get("Idempotency-Key")
    state = request.app[STATE]
    with state.lock:
        # Requests without a key share one counter: "the first N requests overall".
        state.calls["payments", key or ""] += 1
        attempt = state.calls["payments", key or ""]
        payment = state.payment_by_key.get(key) if key else None
        replayed = payment is not None
        if payment is None:
            payment = {"id": len(state.payments) + 1, "idempotency_key": key, "data": data}
            state.payments.append(payment)
            if key:
                state.payment_by_key[key] = payment
    if attempt <= fail:
        # The work is done and recorded; only the answer is lost.
        return web.json_response(
            {"error": "the payment was recorded, but this answer was lost", "attempt": attempt}, status=503
        )
    if replayed:
        return web.json_response(payment, headers={"Idempotent-Replayed": "true"})
    return web.json_response(payment, status=201)


async def _handle_list_payments(request: web.Request) -> web.Response:
    state = request.app[STATE]
    with state.lock:
        payments = list(state.payments)
    return web.json_response({"count": len(payments), "payments": payments})


# ----------------------------------------------------------------- the app


_INDEX = """\
The asyncio lab server (httpbin-style). Endpoints:

GET  /get /json /uuid /headers /html /robots.txt /deny      POST /post     ANY /anything[/...]
ANY  /delay/{seconds}            0 <= seconds <= 10
ANY  /status/{codes}             e.g. 503 or 503,200 (a list is answered in order, cycling;
                                 with weights, 503:0.3,200:0.7, a random pick as in httpbin)
GET  /bytes/{n}?seed=0           n <= 10 MiB, the same bytes for the same seed
GET  /stream-bytes/{n}?seed=0&chunk_size=10240
GET  /drip?numbytes=10&duration=2&delay=0&code=200
GET  /slow-body/{n}?delay=1      headers at once, body after the delay
GET  /truncated/{n}?after=n/2     promises n bytes, sends `after`, then drops the connection
GET  /redirect/{n}?absolute=false   n <= 20, a chain ending at /get
ANY  /redirect-to?url=/path&status_code=302   paths on this server only
ANY  /hang                       never answers (gives up after 60 s with 504)
GET  /flaky/{key}?fail=1         the first `fail` calls per key answer 503
GET  /sequence/{key}?codes=503,503,200&retry_after=1   in order, then the last forever
GET  /ratelimit/{key}?limit=5&window=1                 429 + Retry-After over the limit
GET  /unreliable/{key}?p=0.3&seed=0                    503 with probability p, reproducible
POST /payments?fail=0  (Idempotency-Key header)        GET /payments
GET  /site/                      a website to crawl

The rest of httpbin, with its status codes and JSON shapes:
PUT /put   PATCH /patch   DELETE /delete   GET /ip /user-agent
GET|POST /response-headers?Name=value   GET /cache /cache/{n} /etag/{etag}
GET  /xml /encoding/utf8 /gzip /deflate /forms/post        (/brotli: 501, not available)
GET  /base64/{value} /links/{n}/{offset} /range/{n} /stream/{n}   (n <= 100 lines)
GET  /cookies /cookies/set?name=value /cookies/set/{name}/{value} /cookies/delete?name
GET  /basic-auth/{user}/{passwd} /hidden-basic-auth/{user}/{passwd} /bearer
GET  /relative-redirect/{n} /absolute-redirect/{n}
GET  /image (by Accept) /image/png /image/jpeg /image/svg /image/webp
"""


def _make_app(state: _State) -> web.Application:
    # Imported here, not at the top: labserver_httpbin builds on this module's parsers and echo.
    from . import labserver_httpbin

    app = web.Application(middlewares=[_observe])
    app[STATE] = state
    for method, path, handler in [
        ("GET", "/", _handle_index),
        ("GET", "/get", _handle_get),
        ("GET", "/json", _handle_json),
        ("GET", "/uuid", _handle_uuid),
        ("GET", "/headers", _handle_headers),
        ("GET", "/html", _handle_html),
        ("POST", "/post", _handle_post),
        ("*", "/anything", _handle_anything),
        ("*", "/anything/{tail:.*}", _handle_anything),
        ("*", "/delay/{seconds}", _handle_delay),
        ("*", "/status/{codes}", _handle_status),
        ("GET", "/bytes/{n}", _handle_bytes),
        ("GET", "/stream-bytes/{n}", _handle_stream_bytes),
        ("GET", "/drip", _handle_drip),
        ("GET", "/slow-body/{n}", _handle_slow_body),
        ("GET", "/truncated/{n}", _handle_truncated),
        ("GET", "/redirect/{n}", _handle_redirect),
        ("*", "/redirect-to", _handle_redirect_to),
        ("*", "/hang", _handle_hang),
        ("*", "/flaky/{key}", _handle_flaky),
        ("*", "/sequence/{key}", _handle_sequence),
        ("*", "/ratelimit/{key}", _handle_ratelimit),
        ("*", "/unreliable/{key}", _handle_unreliable),
        ("POST", "/payments", _handle_create_payment),
        ("GET", "/payments", _handle_list_payments),
        *labserver_httpbin.ROUTES,  # the rest of httpbin: /put, /cookies, /basic-auth, /image, ...
    ]:
        if method == "GET":
            app.router.add_get(path, handler)  # GET routes answer HEAD too
        else:
            app.router.add_route(method, path, handler)
    for path in crawlsite.ROUTES:
        app.router.add_get(path, crawlsite.handle)
    return app


# --------------------------------------------------------------- the handle


_LOOPBACK = ("127.0.0.1", "::1")


class LabServer:
    """A running lab server; make one with :func:`start`.

    ``stop()`` is idempotent and returns quickly even while requests hang;
    the server also stops when used as a context manager.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._state = _State()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"labserver:{port}", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped = False
        self._stop_lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stats(self) -> dict[str, Any]:
        """``total``, ``per_path``, ``in_flight``, ``peak_in_flight``, ``connections``,
        ``status_counts`` -- all since start or the last ``reset()``."""
        return self._state.snapshot()

    def requests(self, prefix: str | None = None) -> list[RequestRecord]:
        """Finished requests (whose path starts with ``prefix``), ordered by start time."""
        with self._state.lock:
            records = list(self._state.records)
        if prefix is not None:
            records = [r for r in records if r.path.startswith(prefix)]
        return sorted(records, key=lambda r: r.started)

    def reset(self) -> None:
        """Zero the statistics and forget all fault-injection state and payments.

        Requests still in flight are counted out when they finish, so call
        this between demos, not during one.
        """
        self._state.clear()

    def stop(self) -> None:
        """Stop the server; open requests get ``SHUTDOWN_TIMEOUT`` seconds, then are cut."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        if self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                future.result(timeout=5)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=5)

    def __enter__(self) -> LabServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"<LabServer {self.url} {state}>"

    # -- inside the server thread -------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._startup())
        except BaseException as exc:  # noqa: BLE001 - reported to start() in the caller's thread
            self._error = exc
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._cancel_leftovers()
            self._loop.close()

    async def _startup(self) -> None:
        self._runner = web.AppRunner(
            _make_app(self._state),
            access_log=None,  # no per-request lines in the notebook
            logger=logger,  # protocol errors go to our silent logger
            handler_cancellation=True,  # a client that gives up cancels its handler
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        try:
            self._listener = await self._listen(server)
        except BaseException:
            await self._runner.cleanup()
            raise
        self.port = self._listener.sockets[0].getsockname()[1]

    async def _listen(self, server: web.Server) -> asyncio.Server:

        def protocol_factory() -> asyncio.Protocol:
            # One call per accepted TCP connection: that is the `connections` statistic.
            self._state.connection_opened()
            return server()

        # Our own create_server (TCPSite cannot count connections); a deep
        # backlog so 200 clients connecting at once are not slowed by SYN retries.
        return await self._loop.create_server(protocol_factory, self.host, self.port, backlog=1024)

    async def _shutdown(self) -> None:
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _cancel_leftovers(self) -> None:
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        if tasks:
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def start(port: int = 0, *, host: str = "127.0.0.1") -> LabServer:
    """Start a lab server in a background thread and return once it is listening.

    ``port=0`` picks a free port (see ``server.port``).  Only loopback hosts
    are accepted: the lab server is never reachable from the network.
    """
    if host not in _LOOPBACK:
        raise ValueError(f"the lab server only binds to loopback ({', '.join(_LOOPBACK)}), not {host!r}")
    server = LabServer(host, port)
    server._thread.start()
    server._ready.wait()
    if server._error is not None:
        raise server._error
    return server


def main(argv: list[str]) -> int:
    """``python -m helpers labserver [--port P] [--host 127.0.0.1]``: run until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers labserver", description="Run the lab server in the foreground."
    )
    parser.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", choices=_LOOPBACK)
    args = parser.parse_args(argv)
    try:
        server = start(args.port, host=args.host)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        # Inside the try: Ctrl-C can arrive as soon as the URL is out.
        print(f"lab server running at {server.url}  (Ctrl-C to stop)", flush=True)
        while server._thread.is_alive():
            server._thread.join(timeout=0.5)  # a timed join stays interruptible by Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
