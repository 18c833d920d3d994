"""Checks for notebook 10 · Threads and processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp

from helpers import crawlsite
from helpers.checks import exercise, expect, stop_stray_tasks, tasks_alive_since
from helpers.cpu import hash_rounds
from helpers.timeline import LagMonitor

PAGES = [f"/site/page/{n}" for n in range(1, 49)]
# A heartbeat late by more than this means something still blocks the loop (48 concurrent fetches
# alone can make it some tens of ms late on a busy machine). The per-row version stalls it for all
# 48 commits at once: tens of ms on a RAM disk, up to seconds on a busy one. The thread check below
# is what rejects it for certain.
ARCHIVE_LAG_LIMIT = 0.2
# A worker thread's sqlite3.connect waits this long at most for the loop to run one callback: a loop
# that waits for the thread instead stalls this long, far above ARCHIVE_LAG_LIMIT.
LOOP_ANSWER_LIMIT = 1.0
ROUNDS = 100_000  # hash_rounds(body, ROUNDS): about 0.1 s of pure-Python work per body on an idle machine
FINGERPRINT_URLS = 4
LAG_SLACK = 0.02  # seconds of heartbeat lateness forgiven beyond one hash: a busy machine's scheduling


class _SqliteWatch:
    """While active, every ``sqlite3.connect`` notes the thread of each statement it runs.

    It patches ``sqlite3.connect`` (so code that calls it as ``sqlite3.connect(...)`` is seen) and
    installs a trace callback on each connection; the callback runs in the thread that executes.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.loop_thread = loop, threading.get_ident()
        self.calls: list[tuple[int, str]] = []
        self.loop_was_waiting = 0  # connects in a worker thread that the loop did not answer in time
        self._lock = threading.Lock()
        self._real = sqlite3.connect

    def _record(self, statement: str) -> None:
        with self._lock:
            self.calls.append((threading.get_ident(), statement))

    def __enter__(self) -> _SqliteWatch:
        real = self._real

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            self._record("sqlite3.connect(...)")
            if threading.get_ident() != self.loop_thread:
                # A worker thread waits until the loop runs one callback. A loop that is busy waiting
                # for this very thread (shutdown(wait=True), future.result()) cannot, and shows it;
                # and code that returns without awaiting the thread returns before any row is written.
                answered = threading.Event()
                self.loop.call_soon_threadsafe(answered.set)
                if not answered.wait(LOOP_ANSWER_LIMIT):
                    with self._lock:
                        self.loop_was_waiting += 1
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


class _ThreadJobs:
    """While active, notes every thread pool created and every job submitted from the loop's thread."""

    def __init__(self) -> None:
        self.loop_thread = threading.get_ident()
        self.created: list[ThreadPoolExecutor] = []
        self.jobs: list[Future[Any]] = []
        self._real_init, self._real_submit = ThreadPoolExecutor.__init__, ThreadPoolExecutor.submit

    def __enter__(self) -> _ThreadJobs:
        watch, real_init, real_submit = self, self._real_init, self._real_submit

        def init(executor: ThreadPoolExecutor, *args: Any, **kwargs: Any) -> None:
            real_init(executor, *args, **kwargs)
            if threading.get_ident() == watch.loop_thread:
                watch.created.append(executor)

        def submit(executor: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
            future = real_submit(executor, fn, *args, **kwargs)
            if threading.get_ident() == watch.loop_thread:
                watch.jobs.append(future)
            return future

        setattr(ThreadPoolExecutor, "__init__", init)  # noqa: B010 - mypy refuses a plain assignment
        setattr(ThreadPoolExecutor, "submit", submit)  # noqa: B010
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(ThreadPoolExecutor, "__init__", self._real_init)  # noqa: B010
        setattr(ThreadPoolExecutor, "submit", self._real_submit)  # noqa: B010

    def running(self) -> list[Future[Any]]:
        return [job for job in self.jobs if not job.done()]

    def left_open(self, loop: asyncio.AbstractEventLoop) -> list[ThreadPoolExecutor]:
        """Pools created during the call and still accepting work (asyncio's own default one aside)."""
        default = getattr(loop, "_default_executor", None)
        return [pool for pool in self.created if pool is not default and not getattr(pool, "_shutdown", True)]


def _read_pages(db_path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return sorted(conn.execute("SELECT path, status, title FROM pages").fetchall())
    finally:
        conn.close()


@exercise("Archiver off the loop", timeout=60)
async def check_archiver(archiver_class: Callable[[Path], Any]) -> str:
    loop = asyncio.get_running_loop()
    tmp = tempfile.TemporaryDirectory(prefix="nb10-check-")
    try:
        db_path = Path(tmp.name) / "archive.db"
        async with aiohttp.ClientSession() as session:
            with _SqliteWatch(loop) as watch, _ThreadJobs() as jobs:
                try:
                    async with LagMonitor() as lag:
                        before = asyncio.all_tasks()
                        try:
                            archiver = archiver_class(db_path)
                            saved = await archiver.archive(session, list(PAGES))
                        except sqlite3.ProgrammingError as exc:  # a connection used from another thread
                            expect(
                                False,
                                f"sqlite3 refused: {str(exc).split('.')[0]}",
                                "open the connection inside the function that runs in the thread (and close it there)",
                            )
                        # Nothing may still be at work once archive() has returned (no await since).
                        unfinished, still_running = tasks_alive_since(before), jobs.running()
                        left_open = jobs.left_open(loop)
                finally:  # whatever the learner left behind stops here, before the files go
                    await stop_stray_tasks(before)
                    for job in jobs.running():
                        await asyncio.wait_for(asyncio.wrap_future(job), 30)
                    for pool in jobs.left_open(loop):
                        await asyncio.to_thread(pool.shutdown)
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
        not watch.loop_was_waiting,
        "the loop's thread stood still while the worker thread saved the rows: it was waiting for that thread",
        "await the thread's work (`await asyncio.to_thread(...)`): calling future.result() or "
        "pool.shutdown(wait=True) inside a coroutine blocks the loop until the thread is done",
    )
    expect(
        not unfinished and not still_running,
        f"archive() returned while {len(unfinished) + len(still_running)} piece(s) of its work were still "
        "running: the rows were not saved yet",
        "await the save (`await asyncio.to_thread(self._save, rows)`): a task or an executor future that nobody "
        "awaits lets archive() return before its work is done",
    )
    expect(
        not left_open,
        f"archive() left {len(left_open)} thread pool(s) it created running, with their threads",
        "use `await asyncio.to_thread(...)` (asyncio's own pool), or shut the pool you made down without "
        "blocking the loop: `await asyncio.to_thread(pool.shutdown)`",
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
        self.loop_thread = threading.get_ident()
        self._lock = threading.Lock()
        self.reset_counts()

    def reset_counts(self) -> None:
        with self._lock:
            self.submitted = self.pending = self.peak_pending = self.waited_on_loop = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:  # count before submitting: a fast job may finish before submit returns
            self.submitted += 1
            self.pending += 1
            self.peak_pending = max(self.peak_pending, self.pending)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        real_result = future.result

        def result(timeout: float | None = None) -> Any:
            if threading.get_ident() == self.loop_thread and not future.done():
                self.waited_on_loop += 1  # the loop's thread blocks here until the job is done
            return real_result(timeout)

        future.result = result  # type: ignore[method-assign]
        return future

    def _finished(self, _: Future[Any]) -> None:
        with self._lock:
            self.pending -= 1


class _NewProcessPools:
    """While active, notes every ProcessPoolExecutor created on the loop's thread (the check's own aside)."""

    def __init__(self) -> None:
        self.loop_thread = threading.get_ident()
        self.created: list[ProcessPoolExecutor] = []
        self._real_init = ProcessPoolExecutor.__init__

    def __enter__(self) -> _NewProcessPools:
        watch, real_init = self, self._real_init

        def init(executor: ProcessPoolExecutor, *args: Any, **kwargs: Any) -> None:
            real_init(executor, *args, **kwargs)
            if threading.get_ident() == watch.loop_thread:
                watch.created.append(executor)

        setattr(ProcessPoolExecutor, "__init__", init)  # noqa: B010 - mypy refuses a plain assignment
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(ProcessPoolExecutor, "__init__", self._real_init)  # noqa: B010


async def _time_one_hash(pool: ProcessPoolExecutor) -> tuple[float, float]:
    """Seconds one hash takes in the pool, and how late the free loop's heartbeat was meanwhile."""
    loop = asyncio.get_running_loop()
    async with LagMonitor() as quiet:
        started = time.perf_counter()
        await loop.run_in_executor(pool, hash_rounds, b"one", ROUNDS)
        took = time.perf_counter() - started
    return took, quiet.max_lag


async def _body(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as resp:
        resp.raise_for_status()
        return await resp.read()


@exercise("fingerprints in a process pool", timeout=90)
async def check_fingerprints(fingerprints: Callable[..., Awaitable[dict[str, str]]], base_url: str) -> str:
    loop = asyncio.get_running_loop()
    urls = [f"{base_url}/bytes/4096?seed={seed}" for seed in range(FINGERPRINT_URLS)]
    pool = _WatchedPool()
    own_pools = _NewProcessPools()
    try:
        # Start both workers first, so process start-up (done inside submit) is not blamed on you.
        await asyncio.gather(*(loop.run_in_executor(pool, hash_rounds, b"warm-up", 10) for _ in range(2)))
        one_hash, quiet_lag = await _time_one_hash(pool)
        pool.reset_counts()
        async with aiohttp.ClientSession() as session:
            with _ThreadJobs() as threads, own_pools:
                async with LagMonitor() as lag:
                    result = await fingerprints(session, list(urls), pool, ROUNDS)
            bodies = await asyncio.gather(*(_body(session, url) for url in urls))
        submitted, peak, waited_on_loop = pool.submitted, pool.peak_pending, pool.waited_on_loop
        # Measured again afterwards: on a busy machine (a class hub) a hash may take longer by now.
        one_hash_after, quiet_lag_after = await _time_one_hash(pool)
        one_hash, quiet_lag = max(one_hash, one_hash_after), max(quiet_lag, quiet_lag_after)
        digests = await asyncio.gather(
            *(loop.run_in_executor(pool, hash_rounds, body, ROUNDS) for body in bodies)
        )
    finally:
        for own in [pool, *own_pools.created]:  # shutdown(wait=True) joins processes: not on the loop
            await asyncio.to_thread(own.shutdown)

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
        not own_pools.created,
        f"your code created {len(own_pools.created)} process pool(s) of its own and sent "
        f"{submitted} of {len(urls)} hashes to the pool it was given",
        "use the pool you were given for every hash: a new pool (one per item, or per call) starts new "
        "worker processes each time",
    )
    expect(
        submitted or not threads.jobs,
        f"{len(threads.jobs)} jobs went to a thread pool and none to the process pool",
        "under the GIL, threads take turns at pure-Python work like hash_rounds: send it to the process pool "
        "you were given, `await loop.run_in_executor(pool, hash_rounds, body, rounds)`",
    )
    expect(
        submitted,
        f"no job reached the pool: the hashes ran on the loop's thread (its heartbeat was "
        f"{lag.max_lag * 1000:.0f} ms late)",
        "run each hash in the pool you were given: `await loop.run_in_executor(pool, hash_rounds, body, rounds)`",
    )
    expect(
        submitted >= len(urls),
        f"only {submitted} jobs were submitted to the pool for {len(urls)} URLs",
        "run each hash in the pool you were given: `await loop.run_in_executor(pool, hash_rounds, body, rounds)`",
    )
    expect(
        not waited_on_loop,
        f"the loop's thread waited {waited_on_loop} time(s) for a job of the pool (future.result() or pool.map())",
        "await the pool's result with run_in_executor; calling future.result() or pool.map() blocks the loop",
    )
    # A loop that waits for the pool (concurrent.futures.wait, or any other blocking wait) misses its
    # heartbeat for about two hashes (four jobs, two workers). A free loop is late only by what the
    # machine adds, measured while the check's own hash ran (quiet_lag); the slack covers the rest.
    limit = one_hash + 2 * quiet_lag + LAG_SLACK
    expect(
        lag.max_lag < limit,
        f"the loop's heartbeat was {lag.max_lag * 1000:.0f} ms late (one hash takes {one_hash * 1000:.0f} ms): "
        "it waited while the pool worked",
        "await the pool's results (run_in_executor, asyncio.gather); concurrent.futures.wait, future.result() "
        "or pool.map() make the loop's thread sleep until the jobs are done",
    )
    expect(
        peak >= 2,
        "the hashes ran one at a time",
        "start all the fetch-and-hash jobs together (asyncio.gather) so both worker processes stay busy",
    )
    return f"{len(urls)} fingerprints right, {submitted} hashes ran in the pool, the loop stayed free (max lag {lag.max_lag * 1000:.0f} ms)"
