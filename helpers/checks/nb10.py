"""Checks for notebook 10 · Threads and processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp

from helpers import crawlsite
from helpers.checks import exercise, expect
from helpers.cpu import hash_rounds
from helpers.timeline import LagMonitor

PAGES = [f"/site/page/{n}" for n in range(1, 49)]
# A heartbeat late by more than this means something still blocks the loop (48 concurrent fetches
# alone can make it some tens of ms late on a busy machine). The per-row version stalls it for all
# 48 commits at once: tens of ms on a RAM disk, up to seconds on a busy one. The thread check below
# is what rejects it for certain.
ARCHIVE_LAG_LIMIT = 0.2
ROUNDS = 100_000  # hash_rounds(body, ROUNDS): about 0.1 s of pure-Python work per body on an idle machine
FINGERPRINT_URLS = 4


class _SqliteWatch:
    """While active, every ``sqlite3.connect`` notes the thread of each statement it runs.

    It patches ``sqlite3.connect`` (so code that calls it as ``sqlite3.connect(...)`` is seen) and
    installs a trace callback on each connection; the callback runs in the thread that executes.
    """

    def __init__(self) -> None:
        self.loop_thread = threading.get_ident()
        self.calls: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._real = sqlite3.connect

    def _record(self, statement: str) -> None:
        with self._lock:
            self.calls.append((threading.get_ident(), statement))

    def __enter__(self) -> _SqliteWatch:
        real = self._real

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            self._record("sqlite3.connect(...)")
            conn = real(*args, **kwargs)
            conn.set_trace_callback(self._record)
            return conn

        sqlite3.connect = connect  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        sqlite3.connect = self._real

    def on_loop_thread(self) -> list[str]:
        return [statement for thread, statement in self.calls if thread == self.loop_thread]

    def commits(self) -> int:
        return sum(1 for _, statement in self.calls if statement.strip().upper() == "COMMIT")


def _read_pages(db_path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return sorted(conn.execute("SELECT path, status, title FROM pages").fetchall())
    finally:
        conn.close()


@exercise("Archiver off the loop", timeout=60)
async def check_archiver(archiver_class: Callable[[Path], Any]) -> str:
    tmp = tempfile.TemporaryDirectory(prefix="nb10-check-")
    try:
        db_path = Path(tmp.name) / "archive.db"
        archiver = archiver_class(db_path)
        async with aiohttp.ClientSession() as session:
            with _SqliteWatch() as watch:
                async with LagMonitor() as lag:
                    try:
                        saved = await archiver.archive(session, list(PAGES))
                    except sqlite3.ProgrammingError as exc:  # a connection used from another thread
                        expect(
                            False,
                            f"sqlite3 refused: {str(exc).split('.')[0]}",
                            "open the connection inside the function that runs in the thread (and close it there)",
                        )
        try:
            rows = await asyncio.to_thread(_read_pages, db_path)
        except sqlite3.OperationalError:  # no table: nothing was saved
            rows = []
    finally:
        await asyncio.to_thread(tmp.cleanup)

    expect(
        saved == len(PAGES),
        f"archive() returned {saved!r}, expected {len(PAGES)}",
        "return the number of rows you saved (one per path)",
    )
    on_loop = watch.on_loop_thread()
    expect(
        not on_loop,
        f"{len(on_loop)} sqlite3 calls ran on the event loop's thread, the first: {on_loop[0]!r}"
        if on_loop
        else "",
        "put connect, execute, commit and close into one plain (def) method and call it with "
        "`await asyncio.to_thread(self._save, rows)`: the connection is then opened in the thread that uses it",
    )
    expect(
        lag.max_lag < ARCHIVE_LAG_LIMIT,
        f"the loop's heartbeat was {lag.max_lag * 1000:.0f} ms late (limit {ARCHIVE_LAG_LIMIT * 1000:.0f} ms)",
        "something else still blocks the loop: look for other synchronous calls in archive()",
    )
    expect(
        len(rows) == len(PAGES),
        f"the pages table holds {len(rows)} rows, expected {len(PAGES)}",
        "insert one row per page and commit: `with conn:` around the inserts commits at the end",
    )
    truth = sorted((path, 200, crawlsite.resource(path).title) for path in PAGES)
    wrong = [row for row, want in zip(rows, truth, strict=False) if tuple(row) != want]
    expect(
        not wrong,
        f"{len(wrong)} rows differ from the pages, e.g. {wrong[:1]}",
        "store each row exactly as fetch_page returns it: (path, status, title)",
    )
    commits = watch.commits()
    return f"{len(rows)} rows saved in {commits} commit{'s' * (commits != 1)}, no sqlite3 call on the loop thread, max lag {lag.max_lag * 1000:.0f} ms"


class _WatchedPool(ProcessPoolExecutor):
    """A spawn-based process pool that counts what is submitted and how many jobs are pending."""

    def __init__(self) -> None:
        super().__init__(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
        self._lock = threading.Lock()
        self.reset_counts()

    def reset_counts(self) -> None:
        with self._lock:
            self.submitted = self.pending = self.peak_pending = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:  # count before submitting: a fast job may finish before submit returns
            self.submitted += 1
            self.pending += 1
            self.peak_pending = max(self.peak_pending, self.pending)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[Any]) -> None:
        with self._lock:
            self.pending -= 1


async def _body(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as resp:
        resp.raise_for_status()
        return await resp.read()


@exercise("fingerprints in a process pool", timeout=90)
async def check_fingerprints(fingerprints: Callable[..., Awaitable[dict[str, str]]], base_url: str) -> str:
    loop = asyncio.get_running_loop()
    urls = [f"{base_url}/bytes/4096?seed={seed}" for seed in range(FINGERPRINT_URLS)]
    pool = _WatchedPool()
    try:
        # Start both workers first, so process start-up (done inside submit) is not blamed on you.
        await asyncio.gather(*(loop.run_in_executor(pool, hash_rounds, b"warm-up", 10) for _ in range(2)))
        started = time.perf_counter()
        await loop.run_in_executor(pool, hash_rounds, b"one", ROUNDS)
        one_hash = time.perf_counter() - started
        pool.reset_counts()
        async with aiohttp.ClientSession() as session:
            async with LagMonitor() as lag:
                result = await fingerprints(session, list(urls), pool, ROUNDS)
            bodies = await asyncio.gather(*(_body(session, url) for url in urls))
        submitted, peak = pool.submitted, pool.peak_pending
        digests = await asyncio.gather(
            *(loop.run_in_executor(pool, hash_rounds, body, ROUNDS) for body in bodies)
        )
    finally:
        await asyncio.to_thread(pool.shutdown)  # shutdown(wait=True) joins processes: not on the loop

    expected = dict(zip(urls, digests, strict=True))
    expect(
        isinstance(result, dict) and set(result) == set(urls),
        f"returned {type(result).__name__} with keys {sorted(result)[:2] if isinstance(result, dict) else '-'}…",
        "return a dict with one entry per URL: {url: hash_rounds(body, rounds)}",
    )
    wrong = [url for url in urls if result[url] != expected[url]]
    expect(
        not wrong,
        f"{len(wrong)} of {len(urls)} fingerprints are wrong",
        "hash the raw body (await resp.read(), not .text()) with hash_rounds(body, rounds)",
    )
    expect(
        submitted >= len(urls),
        f"only {submitted} jobs were submitted to the pool for {len(urls)} URLs",
        "run each hash in the pool you were given: `await loop.run_in_executor(pool, hash_rounds, body, rounds)`",
    )
    limit = 0.5 * one_hash
    expect(
        lag.max_lag < limit,
        f"the loop's heartbeat was {lag.max_lag * 1000:.0f} ms late (one hash takes {one_hash * 1000:.0f} ms)",
        "await the pool's result with run_in_executor; calling future.result() or pool.map() blocks the loop",
    )
    expect(
        peak >= 2,
        "the hashes ran one at a time",
        "start all the fetch-and-hash jobs together (asyncio.gather) so both worker processes stay busy",
    )
    return f"{len(urls)} fingerprints right, {submitted} hashes ran in the pool, the loop stayed free (max lag {lag.max_lag * 1000:.0f} ms)"
