"""Checks for notebook 05 · aiohttp client.

    await nb05.check_fetch_all(fetch_all, server)          # server = helpers.labserver.start()
    await nb05.check_download_all(download_all, server)

Both checks drive the learner's function against the notebook's lab server and read the server's
statistics (``reset()`` first), so they prove what happened on the wire: how many requests were in
flight at once, which statuses were answered.  ``check_download_all`` also watches *where* file work
happens: an audit hook sees every ``open`` and rename under the download folder, and a profiler on
the event loop's thread sees every ``write`` to a file there; either on the loop's thread fails.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from helpers.checks import exercise, expect, leaf_exceptions, outcome, stop_stray_tasks

# ------------------------------------------------------------------ shared pieces


def _leaves(exc: BaseException | None, kind: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
    return exc is not None and any(isinstance(e, kind) for e in leaf_exceptions(exc))


def _describe(exc: BaseException) -> str:
    leaves = leaf_exceptions(exc)
    shown = ", ".join(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__ for e in leaves[:3])
    return f"{type(exc).__name__} ({shown})" if isinstance(exc, BaseExceptionGroup) else shown


# ------------------------------------------------------------------ fetch_all


def _keys(data: Any) -> list[str]:
    return sorted(data)


def _buggy(data: Any) -> Any:
    return data["no such field"]  # a bug in the caller's code: KeyError


@exercise("fetch_all", timeout=20)
async def check_fetch_all(fetch_all: Callable[..., Awaitable[Any]], server: Any) -> str:
    base = server.url
    ok, created = f"{base}/delay/0.2", f"{base}/sequence/nb05-created?codes=201"
    missing, busy, slow = f"{base}/status/404", f"{base}/sequence/nb05-busy?codes=503", f"{base}/delay/3"
    urls = [ok, created, missing, busy, slow]
    async with aiohttp.ClientSession() as own:
        async with own.get(ok) as resp:
            expected_ok = _keys(await resp.json())
    expected_created = ["attempt", "key", "status"]

    server.reset()
    before = asyncio.all_tasks()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session:
        value, error = await outcome(fetch_all(session, urls, _keys))
    stray = await stop_stray_tasks(before)
    expect(
        not _leaves(error, TimeoutError),
        "a TimeoutError escaped from fetch_all (the request to /delay/3 hit the session's 0.5 s limit)",
        "catch TimeoutError as well as aiohttp.ClientError: aiohttp's total timeout raises TimeoutError, "
        "which is not a ClientError",
    )
    expect(
        not _leaves(error, aiohttp.ClientError),
        f"an HTTP error escaped from fetch_all: {_describe(error) if error else ''}",
        "catch aiohttp.ClientError (raise_for_status raises ClientResponseError, a subclass) and record a reason",
    )
    if error is not None:
        raise error
    expect(
        isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, dict) for v in value),
        f"returned {type(value).__name__}, not a pair of dicts",
        "return (results, failures): two dicts keyed by URL",
    )
    results, failures = value
    expect(
        slow not in results,
        "the /delay/3 request succeeded after 3 s: the session's 0.5 s total timeout did not apply to it",
        "make every request with the session you were given, and pass no timeout= to session.get: a "
        "per-request ClientTimeout replaces the session's whole one (if you need one, copy session.timeout's fields into it)",
    )
    expect(
        created not in failures,
        f"the 201 Created answer was counted as a failure ({failures.get(created)!r})",
        "every 2xx status is a success: call resp.raise_for_status() instead of comparing status == 200",
    )
    expect(
        set(results) == {ok, created},
        f"results holds {sorted(results)}; expected the /delay/0.2 and the 201 URLs",
        "put parse(await resp.json()) into results for each answer that raise_for_status() accepts",
    )
    expect(
        results[ok] == expected_ok and results[created] == expected_created,
        "a value in results is not what parse() returned for that JSON body",
        "store parse(data) for each URL, where data = await resp.json()",
    )
    expect(
        set(failures) == {missing, busy, slow},
        f"failures holds {sorted(failures)}; expected the 404, the 503 and the timed-out URL",
        "record one failure per URL that answered 4xx/5xx or timed out",
    )
    reasons = {url: failures[url] for url in (missing, busy, slow)}
    blank = [url.removeprefix(base) for url, r in reasons.items() if not (isinstance(r, str) and r.strip())]
    expect(
        not blank,
        f"the failure reason for {', '.join(blank)} is empty or not text",
        "write a short reason for each failure; str(TimeoutError()) is empty, so say e.g. 'timed out'",
    )
    expect(
        "404" in reasons[missing] and "503" in reasons[busy],
        f"the reasons {reasons[missing]!r} and {reasons[busy]!r} do not name the status",
        "put the status in the reason, e.g. f'HTTP {exc.status}' from aiohttp.ClientResponseError",
    )
    peak = server.stats()["peak_in_flight"]
    expect(
        peak >= 2,
        "the server saw one request at a time",
        "start all the requests together (asyncio.TaskGroup), not one after another",
    )
    expect(
        not stray,
        f"{len(stray)} task(s) were still running after fetch_all returned",
        "start the requests in an asyncio.TaskGroup so they have all finished when it returns",
    )

    before = asyncio.all_tasks()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session:
        value, error = await outcome(fetch_all(session, urls, _buggy))
    stray = await stop_stray_tasks(before)
    expect(
        _leaves(error, KeyError),
        "a KeyError raised by parse() did not propagate: "
        + (f"fetch_all raised {_describe(error)}" if error else "the bug became data"),
        "catch only aiohttp.ClientError and TimeoutError, and call parse() outside the try: "
        "a bug in your own code must surface, not be recorded as a network failure",
    )
    expect(
        not stray,
        f"{len(stray)} request task(s) kept running after the KeyError",
        "use asyncio.TaskGroup: when one task fails it cancels the others; gather() leaves them running",
    )
    return "2xx are results, 404/503/timeout are failures with reasons, a bug in parse() propagates"


# ------------------------------------------------------------------ download_all


class _FileWatch:
    """Notes file work under ``folder`` done on the event loop's thread.

    ``open`` and renames arrive as audit events (``sys.addaudithook``, in the thread doing the work);
    writes are C calls seen by a profiler installed on the loop's thread only (``sys.setprofile``).
    Audit hooks cannot be removed, so one hook is installed per process and stays idle between checks.
    """

    active: _FileWatch | None = None
    _hook_installed = False

    def __init__(self, folder: Path) -> None:
        self.prefix = os.path.join(os.path.realpath(folder), "")
        self.loop_thread = threading.get_ident()
        self.on_loop: list[str] = []
        self._previous_profile: Any = None

    def __enter__(self) -> _FileWatch:
        if not _FileWatch._hook_installed:
            sys.addaudithook(_FileWatch._audit)
            _FileWatch._hook_installed = True
        _FileWatch.active = self
        self._previous_profile = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(self._previous_profile)
        _FileWatch.active = None

    def _mine(self, path: Any) -> str | None:
        try:
            name = os.fsdecode(os.fspath(path))
        except TypeError:
            return None  # a file descriptor
        full = os.path.realpath(name)
        return os.path.basename(full) if full.startswith(self.prefix) else None

    @staticmethod
    def _audit(event: str, args: tuple[Any, ...]) -> None:
        watch = _FileWatch.active
        if watch is None or event not in ("open", "os.rename") or threading.get_ident() != watch.loop_thread:
            return
        try:
            name = watch._mine(args[0])
            if name is not None:
                watch.on_loop.append(f"{'open' if event == 'open' else 'rename'} {name}")
        except Exception:  # noqa: BLE001 - an audit hook must never break the code it watches
            pass

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event != "c_call" or getattr(arg, "__name__", None) not in ("write", "writelines"):
            return
        target = getattr(arg, "__self__", None)
        if isinstance(target, io.IOBase):
            try:
                name = self._mine(getattr(target, "name", None))
            except Exception:  # noqa: BLE001
                name = None
            if name is not None:
                self.on_loop.append(f"write {name}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _listing(folder: Path) -> dict[str, str]:
    """File name -> sha256 of its bytes (read in a thread by the caller)."""
    return {p.name: _sha256(p.read_bytes()) for p in folder.iterdir()}


def _leftovers(found: dict[str, str], complete: dict[str, str]) -> list[str]:
    """Files that are not a finished download of a good URL."""
    return sorted(name for name, digest in found.items() if complete.get(name) != digest)


@exercise("download_all", timeout=40)
async def check_download_all(download_all: Callable[..., Awaitable[Any]], server: Any) -> str:
    base, limit = server.url, 3
    # Slow answers (headers now, body after 0.1 s) make overlap visible to the server;
    # chunked streams exercise the reading loop. Both serve the bytes of /bytes/{n}?seed=.
    bodies = [(f"/slow-body/{100_000 + 7_919 * i}?delay=0.1", 100_000 + 7_919 * i, 0) for i in range(6)]
    bodies += [
        (f"/stream-bytes/{250_000 * i + 1}?seed={i}&chunk_size=8192", 250_000 * i + 1, i) for i in range(1, 6)
    ]
    bodies.reverse()  # the biggest first: downloads then finish in another order than the urls
    # ...for certain: the first URL answers only after 0.5 s, while the other slots finish several files.
    smallest, _, seed = bodies.pop()
    bodies.insert(0, (smallest.replace("delay=0.1", "delay=0.5"), 100_000, seed))
    urls = [base + path for path, _, _ in bodies]
    async with aiohttp.ClientSession() as own:
        expected = []
        for _, n, seed in bodies:
            async with own.get(f"{base}/bytes/{n}?seed={seed}") as resp:
                expected.append(_sha256(await resp.read()))
    complete = {f"{i}.bin": digest for i, digest in enumerate(expected)}

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server.reset()
        before = asyncio.all_tasks()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            with _FileWatch(folder) as watch:
                digests, error = await outcome(download_all(session, urls, folder, limit))
        stray = await stop_stray_tasks(before)
        if error is not None:
            raise error
        found = await asyncio.to_thread(_listing, folder)
    stats = server.stats()
    expect(
        isinstance(digests, list) and len(digests) == len(urls),
        f"returned {type(digests).__name__} of length {len(digests) if hasattr(digests, '__len__') else '?'}",
        f"return a list with one sha256 hex digest per URL ({len(urls)} here)",
    )
    expect(
        sorted(found) == sorted(complete),
        f"the folder holds {sorted(found)[:6]}…; expected 0.bin … {len(urls) - 1}.bin only",
        "save urls[i] as folder / f'{i}.bin', and rename the temporary file when it is complete",
    )
    expect(
        all(found[name] == digest for name, digest in complete.items()),
        "a saved file does not hold the bytes the server sent",
        "write every chunk of resp.content.iter_chunked(64 * 1024), in order, and close the file before renaming",
    )
    expect(
        digests == expected or sorted(map(str, digests)) != sorted(expected),
        "the returned digests are right but in the order the downloads finished",
        "return them in the order of urls: keep each task and read task.result(), or store digest i at index i",
    )
    expect(
        digests == expected,
        "the returned digests do not match the files' sha256",
        "update hashlib.sha256() with every chunk and return .hexdigest(), in the order of urls",
    )
    expect(
        stats["peak_in_flight"] <= limit,
        f"the server saw {stats['peak_in_flight']} downloads at once with limit={limit}",
        "hold an asyncio.Semaphore(limit) around each download (the session given to you has no limit)",
    )
    expect(
        stats["peak_in_flight"] >= 2,
        "the downloads ran one at a time",
        "start the downloads together in an asyncio.TaskGroup; the limit caps them, it does not serialise them",
    )
    # Connections go back to the session's pool and are reused: with `limit` downloads at a time the
    # server sees `limit` connections. A session per download opens one connection per URL.
    expect(
        stats["connections"] <= 2 * limit,
        f"the server accepted {stats['connections']} connections for {len(urls)} downloads, at most {limit} at once",
        "make every request with the session you were given (its pool reuses connections), not a new "
        "ClientSession per download",
    )
    seen = list(dict.fromkeys(watch.on_loop))  # in order, without repeats
    expect(
        not seen,
        f"file work on the event loop's thread: {', '.join(seen[:3])}",
        "run open, write, close and rename with asyncio.to_thread (or in one thread per file)",
    )
    expect(
        not stray,
        f"{len(stray)} task(s) were still running after download_all returned",
        "await every download before returning (an asyncio.TaskGroup does that for you)",
    )

    # The failing URL comes early, so its siblings are mid-download when it fails.
    plan = [
        (urls[0], expected[0]),
        (f"{base}/status/500", None),
        (urls[1], expected[1]),
        (urls[6], expected[6]),
        (urls[2], expected[2]),
    ]
    await _check_failure(download_all, plan, limit, "a URL that answered 500")
    plan = [
        (urls[0], expected[0]),
        (f"{base}/truncated/300000", None),
        (urls[5], expected[5]),
        (urls[4], expected[4]),
    ]
    await _check_failure(download_all, plan, limit, "a connection the server dropped halfway through a body")
    plan = [
        (urls[0], expected[0]),
        (f"{base}/drip?numbytes=300000&duration=3", None),
        (urls[8], expected[8]),
        (urls[3], expected[3]),
    ]
    await _check_failure(download_all, plan, limit, "a download cut short by a 0.5 s deadline", deadline=0.5)
    return (
        f"{len(urls)} files match the server's sha256, at most {limit} in flight, files written off "
        "the loop, no partial file after a 500, a dropped connection or a deadline"
    )


async def _check_failure(
    download_all: Callable[..., Awaitable[Any]],
    plan: list[tuple[str, str | None]],
    limit: int,
    what: str,
    deadline: float | None = None,
) -> None:
    """Run a download that must fail; then only complete files of good URLs may be in the folder."""
    urls = [url for url, _ in plan]
    good = {f"{i}.bin": digest for i, (_, digest) in enumerate(plan) if digest is not None}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        before = asyncio.all_tasks()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            if deadline is None:
                value, error = await outcome(download_all(session, urls, folder, limit))
            else:
                try:
                    async with asyncio.timeout(deadline):
                        value, error = await outcome(download_all(session, urls, folder, limit))
                except TimeoutError as exc:
                    value, error = None, exc
        stray = await stop_stray_tasks(before)
        await asyncio.sleep(0.2)  # writes already handed to threads land now, if they are going to
        found = await asyncio.to_thread(_listing, folder)
    expect(
        error is not None,
        f"after {what}, download_all returned {value!r} instead of raising",
        "let the failure propagate (resp.raise_for_status(); never swallow CancelledError)",
    )
    expect(
        not stray,
        f"after {what}, {len(stray)} download task(s) were still running",
        "start the downloads in an asyncio.TaskGroup: one failure cancels the rest before it raises",
    )
    left = _leftovers(found, good)
    in_place = [name for name in left if name.endswith(".bin")]
    expect(
        not in_place,
        f"after {what}, the folder holds {in_place}: a partial or failed download under its final name",
        "do not write straight to the final name: write to a temporary file (i.bin.part) and rename it "
        "into place only when it is complete (PartFile in the notebook does this)",
    )
    expect(
        not left,
        f"after {what}, the folder still holds {left}: partial temporary files",
        "delete the temporary file on any failure, cancellation included, after any file job still "
        "running (PartFile in the notebook does all this)",
    )
