"""Wrong answers for notebook 10 · Threads and processes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import re
import sqlite3
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp

from helpers.checks import nb10
from helpers.cpu import hash_rounds

from . import Lab, Wrong

# ------------------------------------------------------------------ the notebook's own pieces
# Copied from the notebook, because a learner's answer calls them as the notebook defines them.

SERVER = {"url": ""}  # the notebook's `server.url`; the judge fills it in
SCHEMA = "CREATE TABLE IF NOT EXISTS pages (path TEXT PRIMARY KEY, status INTEGER, title TEXT)"
INSERT = "INSERT INTO pages VALUES (?, ?, ?)"
TITLE = re.compile(r"<title>(.*?)</title>")
Row = tuple[str, int, str]


async def fetch_page(session: aiohttp.ClientSession, path: str) -> Row:
    async with session.get(f"{SERVER['url']}{path}") as resp:
        resp.raise_for_status()
        html = await resp.text()
    match = TITLE.search(html)
    assert match is not None
    return path, resp.status, match.group(1)


def save_batch(db_path: Path, rows: list[Row]) -> None:
    """The notebook's save_batch: one connection, one transaction, one commit."""
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            conn.execute(SCHEMA)
            conn.executemany(INSERT, rows)
    finally:
        conn.close()


# ------------------------------------------------------------------ archiver


class BatchedButOnTheLoop:
    """The notebook's common mistake, batched: one connection and one commit, but sqlite3 on the loop."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    async def archive(self, session: aiohttp.ClientSession, paths: list[str]) -> int:
        rows = await asyncio.gather(*(fetch_page(session, path) for path in paths))
        save_batch(self.db_path, rows)
        return len(rows)


class ConnectionOpenedOnTheLoop:
    """Opens the connection in __init__ (on the loop's thread) and sends only the statements to a thread."""

    def __init__(self, db_path: Path) -> None:
        self.conn = sqlite3.connect(db_path)

    async def archive(self, session: aiohttp.ClientSession, paths: list[str]) -> int:
        rows = await asyncio.gather(*(fetch_page(session, path) for path in paths))
        try:
            await asyncio.to_thread(self.conn.executescript, SCHEMA)
            await asyncio.to_thread(self.conn.executemany, INSERT, rows)
            await asyncio.to_thread(self.conn.commit)
        finally:
            self.conn.close()
        return len(rows)


class SaveNotAwaited:
    """Hands the save to the default executor and returns without awaiting it: "it runs in the background"."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    async def archive(self, session: aiohttp.ClientSession, paths: list[str]) -> int:
        rows = await asyncio.gather(*(fetch_page(session, path) for path in paths))
        asyncio.get_running_loop().run_in_executor(None, save_batch, self.db_path, rows)
        return len(rows)


class SaveInAFireAndForgetTask:
    """Starts the threaded save as a task and returns at once: archive() ends before any row is written."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.background: set[asyncio.Task[None]] = set()

    async def archive(self, session: aiohttp.ClientSession, paths: list[str]) -> int:
        rows = await asyncio.gather(*(fetch_page(session, path) for path in paths))
        task = asyncio.create_task(asyncio.to_thread(save_batch, self.db_path, rows))
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return len(rows)


class ShutdownWaitsOnTheLoop:
    """Submits the save to its own pool, then calls shutdown(wait=True) in the coroutine: the loop waits."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    async def archive(self, session: aiohttp.ClientSession, paths: list[str]) -> int:
        rows = await asyncio.gather(*(fetch_page(session, path) for path in paths))
        pool = ThreadPoolExecutor(max_workers=1)
        pool.submit(save_batch, self.db_path, rows)
        pool.shutdown(wait=True)  # blocks the loop until the save is done
        return len(rows)


class PoolLeftRunning:
    """A thread pool of its own, created per archiver and never shut down: its thread outlives the work."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archiver")

    async def archive(self, session: aiohttp.ClientSession, paths: list[str]) -> int:
        rows = await asyncio.gather(*(fetch_page(session, path) for path in paths))
        await asyncio.get_running_loop().run_in_executor(self.pool, save_batch, self.db_path, rows)
        return len(rows)


# ------------------------------------------------------------------ fingerprints


async def _read(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as resp:
        resp.raise_for_status()
        return await resp.read()


async def hashes_on_the_loop(
    session: aiohttp.ClientSession, urls: list[str], pool: ProcessPoolExecutor, rounds: int
) -> dict[str, str]:
    """Fetches concurrently, then hashes right in the coroutine: the loop is busy for every hash."""
    bodies = await asyncio.gather(*(_read(session, url) for url in urls))
    return {url: hash_rounds(body, rounds) for url, body in zip(urls, bodies, strict=True)}


async def hashes_in_threads(
    session: aiohttp.ClientSession, urls: list[str], pool: ProcessPoolExecutor, rounds: int
) -> dict[str, str]:
    """The notebook's common mistake: threads for pure-Python CPU work (asyncio.to_thread)."""

    async def one(url: str) -> tuple[str, str]:
        body = await _read(session, url)
        return url, await asyncio.to_thread(hash_rounds, body, rounds)

    return dict(await asyncio.gather(*(one(url) for url in urls)))


async def a_pool_per_item(
    session: aiohttp.ClientSession, urls: list[str], pool: ProcessPoolExecutor, rounds: int
) -> dict[str, str]:
    """Ignores the pool it was given and starts a process pool for every URL."""
    loop = asyncio.get_running_loop()

    async def one(url: str) -> tuple[str, str]:
        body = await _read(session, url)
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as own:
            return url, await loop.run_in_executor(own, hash_rounds, body, rounds)

    return dict(await asyncio.gather(*(one(url) for url in urls)))


async def one_at_a_time(
    session: aiohttp.ClientSession, urls: list[str], pool: ProcessPoolExecutor, rounds: int
) -> dict[str, str]:
    """Right pool, right call, but a plain loop: each hash waits for the previous one."""
    loop = asyncio.get_running_loop()
    result = {}
    for url in urls:
        body = await _read(session, url)
        result[url] = await loop.run_in_executor(pool, hash_rounds, body, rounds)
    return result


async def waits_with_result(
    session: aiohttp.ClientSession, urls: list[str], pool: ProcessPoolExecutor, rounds: int
) -> dict[str, str]:
    """Submits every hash to the pool, then collects them with future.result(): the loop blocks."""
    bodies = await asyncio.gather(*(_read(session, url) for url in urls))
    futures = {url: pool.submit(hash_rounds, body, rounds) for url, body in zip(urls, bodies, strict=True)}
    return {url: future.result() for url, future in futures.items()}


async def waits_with_futures_wait(
    session: aiohttp.ClientSession, urls: list[str], pool: ProcessPoolExecutor, rounds: int
) -> dict[str, str]:
    """Submits every hash, then blocks the loop in concurrent.futures.wait until all are done."""
    bodies = await asyncio.gather(*(_read(session, url) for url in urls))
    futures = {url: pool.submit(hash_rounds, body, rounds) for url, body in zip(urls, bodies, strict=True)}
    concurrent.futures.wait(futures.values())  # the loop's thread sleeps here: no heartbeat, no I/O
    return {url: future.result() for url, future in futures.items()}


WRONG = [
    Wrong("archiver", "batched, but sqlite3 on the loop", BatchedButOnTheLoop, r"on the event loop's thread"),
    Wrong(
        "archiver", "connection opened on the loop", ConnectionOpenedOnTheLoop, r"open the connection inside"
    ),
    Wrong("archiver", "save not awaited", SaveNotAwaited, r"(?s)still running.*nobody awaits"),
    Wrong(
        "archiver",
        "save in a fire-and-forget task",
        SaveInAFireAndForgetTask,
        r"(?s)still running.*nobody awaits",
    ),
    Wrong(
        "archiver",
        "shutdown(wait=True) on the loop",
        ShutdownWaitsOnTheLoop,
        r"shutdown\(wait=True\) inside a coroutine",
    ),
    Wrong(
        "archiver", "own thread pool left running", PoolLeftRunning, r"thread pool\(s\) it created running"
    ),
    Wrong("fingerprints", "hashes on the loop", hashes_on_the_loop, r"ran on the loop's thread"),
    Wrong("fingerprints", "threads instead of processes", hashes_in_threads, r"threads take turns"),
    Wrong("fingerprints", "a process pool per item", a_pool_per_item, r"process pool\(s\) of its own"),
    Wrong("fingerprints", "one hash at a time", one_at_a_time, r"one at a time"),
    Wrong("fingerprints", "future.result() on the loop", waits_with_result, r"future\.result\(\)"),
    Wrong(
        "fingerprints",
        "concurrent.futures.wait on the loop",
        waits_with_futures_wait,
        r"waited while the pool",
    ),
]


async def judge_archiver(answer: Any, lab: Lab) -> None:
    SERVER["url"] = lab.server.url
    await nb10.check_archiver(answer)


async def judge_fingerprints(answer: Any, lab: Lab) -> None:
    await nb10.check_fingerprints(answer, lab.server.url)


CHECKS = {"archiver": judge_archiver, "fingerprints": judge_fingerprints}
