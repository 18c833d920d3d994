"""Wrong answers for notebook 05 · aiohttp client."""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp

from helpers.checks import nb05

from . import Wrong

# ------------------------------------------------------------------ the notebook's own pieces
# Copied from the notebook, because a learner's answer calls them as the notebook defines them.


async def get_json(session: aiohttp.ClientSession, path: str) -> Any:
    async with session.get(path) as resp:
        resp.raise_for_status()
        return await resp.json()


class PartFileWork:
    """The blocking half of PartFile: every method runs in the file's own thread."""

    def __init__(self, target: Path) -> None:
        self.target, self.part, self.file = target, target.with_name(target.name + ".part"), None

    def open(self) -> None:
        self.file = open(self.part, "wb")

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)

    def close(self, keep: bool) -> None:
        try:
            if self.file is not None:
                self.file.close()
            if keep:
                self.part.replace(self.target)
        finally:
            self.part.unlink(missing_ok=True)


class PartFile:
    """``async with PartFile(path) as out: await out.write(chunk)``: renamed on success, deleted on failure."""

    def __init__(self, target: Path) -> None:
        self.work = PartFileWork(target)
        self.thread = ThreadPoolExecutor(max_workers=1)

    def _do(self, job: Any, *args: Any) -> asyncio.Future[Any]:
        return asyncio.shield(asyncio.get_running_loop().run_in_executor(self.thread, job, *args))

    async def __aenter__(self) -> PartFile:
        try:
            await self._do(self.work.open)
        except BaseException:
            await self.__aexit__(BaseException)
            raise
        return self

    async def write(self, chunk: bytes) -> None:
        await self._do(self.work.write, chunk)

    async def __aexit__(self, exc_type: Any, *exc_info: object) -> None:
        try:
            await self._do(self.work.close, exc_type is None)
        finally:
            self.thread.shutdown(wait=False)


# ------------------------------------------------------------------ fetch_all


async def popular_pattern(session, urls, parse):
    """The stub of the exercise as the notebook shows it: status == 200, except Exception, gather."""

    async def one(url):
        try:
            async with session.get(url) as resp:
                ok = resp.status == 200
                return url, ok, parse(await resp.json()) if ok else f"HTTP {resp.status}"
        except Exception as exc:  # noqa: BLE001 - the mistake on show
            return url, False, str(exc)

    rows = await asyncio.gather(*(one(u) for u in urls))
    return {u: v for u, ok, v in rows if ok}, {u: v for u, ok, v in rows if not ok}


async def parse_inside_the_try(session, urls, parse):
    """raise_for_status and the right excepts, but parse() sits inside a catch-all try: the bug becomes data."""
    results, failures = {}, {}

    async def one(url):
        try:
            results[url] = parse(await get_json(session, url))
        except aiohttp.ClientResponseError as exc:
            failures[url] = f"HTTP {exc.status}"
        except TimeoutError:
            failures[url] = "timed out"
        except Exception as exc:  # noqa: BLE001 - "just in case": the mistake on show
            failures[url] = f"failed: {exc!r}"

    async with asyncio.TaskGroup() as tg:
        for url in urls:
            tg.create_task(one(url))
    return results, failures


async def client_error_only(session, urls, parse):
    """Catches aiohttp.ClientError only: the session's total timeout raises TimeoutError, which escapes."""
    results, failures = {}, {}

    async def one(url):
        try:
            data = await get_json(session, url)
        except aiohttp.ClientResponseError as exc:
            failures[url] = f"HTTP {exc.status}"
        except aiohttp.ClientError as exc:
            failures[url] = type(exc).__name__
        else:
            results[url] = parse(data)

    async with asyncio.TaskGroup() as tg:
        for url in urls:
            tg.create_task(one(url))
    return results, failures


async def blank_timeout_reason(session, urls, parse):
    """Records str(exc) as the reason: str(TimeoutError()) is the empty string."""
    results, failures = {}, {}

    async def one(url):
        try:
            data = await get_json(session, url)
        except aiohttp.ClientResponseError as exc:
            failures[url] = f"HTTP {exc.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            failures[url] = str(exc)
        else:
            results[url] = parse(data)

    async with asyncio.TaskGroup() as tg:
        for url in urls:
            tg.create_task(one(url))
    return results, failures


async def one_after_another(session, urls, parse):
    """Right answers, but each request is awaited before the next one starts."""
    results, failures = {}, {}
    for url in urls:
        try:
            data = await get_json(session, url)
        except aiohttp.ClientResponseError as exc:
            failures[url] = f"HTTP {exc.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            failures[url] = f"{type(exc).__name__} (timed out?)"
        else:
            results[url] = parse(data)
    return results, failures


async def gathered(session, urls, parse):
    """gather() instead of a TaskGroup: when parse() raises, the other requests keep running."""
    results, failures = {}, {}

    async def one(url):
        try:
            data = await get_json(session, url)
        except aiohttp.ClientResponseError as exc:
            failures[url] = f"HTTP {exc.status}"
        except (aiohttp.ClientError, TimeoutError):
            failures[url] = "timed out"
        else:
            results[url] = parse(data)

    await asyncio.gather(*(one(u) for u in urls))
    return results, failures


async def own_request_timeout(session, urls, parse):
    """Passes timeout=ClientTimeout(sock_read=5) to each request, which replaces the session's 0.5 s total."""
    results, failures = {}, {}

    async def one(url):
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(sock_read=5)) as resp:
                resp.raise_for_status()
                data = await resp.json()
        except aiohttp.ClientResponseError as exc:
            failures[url] = f"HTTP {exc.status}"
        except (aiohttp.ClientError, TimeoutError):
            failures[url] = "timed out"
        else:
            results[url] = parse(data)

    async with asyncio.TaskGroup() as tg:
        for url in urls:
            tg.create_task(one(url))
    return results, failures


# ------------------------------------------------------------------ download_all


async def download_naive_in_a_pool(session, urls, folder, limit):
    """The notebook's download_naive, run under a Semaphore: open and write on the loop, 1 KiB reads."""
    gate = asyncio.Semaphore(limit)

    async def one(url, target):
        digest = hashlib.sha256()
        async with gate, session.get(url) as resp:
            with open(target, "wb") as f:
                while chunk := await resp.content.read(1024):
                    digest.update(chunk)
                    f.write(chunk)
        return digest.hexdigest()

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(url, folder / f"{i}.bin")) for i, url in enumerate(urls)]
    return [t.result() for t in tasks]


async def straight_to_the_target(session, urls, folder, limit):
    """File work in threads, but written straight to i.bin: a failed download leaves half a file."""
    gate = asyncio.Semaphore(limit)

    async def one(url, target):
        digest = hashlib.sha256()
        async with gate, session.get(url) as resp:
            resp.raise_for_status()
            f = await asyncio.to_thread(open, target, "wb")
            try:
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    digest.update(chunk)
                    await asyncio.to_thread(f.write, chunk)
            finally:
                await asyncio.to_thread(f.close)
        return digest.hexdigest()

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(url, folder / f"{i}.bin")) for i, url in enumerate(urls)]
    return [t.result() for t in tasks]


async def part_file_never_cleaned(session, urls, folder, limit):
    """Writes i.bin.part and renames it when complete, but leaves the .part file behind on a failure."""
    gate = asyncio.Semaphore(limit)

    async def one(url, target):
        digest, part = hashlib.sha256(), target.with_name(target.name + ".part")
        async with gate, session.get(url) as resp:
            resp.raise_for_status()
            f = await asyncio.to_thread(open, part, "wb")
            async for chunk in resp.content.iter_chunked(64 * 1024):
                digest.update(chunk)
                await asyncio.to_thread(f.write, chunk)
            await asyncio.to_thread(f.close)
            await asyncio.to_thread(part.replace, target)
        return digest.hexdigest()

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(url, folder / f"{i}.bin")) for i, url in enumerate(urls)]
    return [t.result() for t in tasks]


async def status_never_checked(session, urls, folder, limit):
    """PartFile and a Semaphore, but no raise_for_status(): a 500 error page is saved as a download."""
    gate = asyncio.Semaphore(limit)

    async def one(url, target):
        digest = hashlib.sha256()
        async with gate, session.get(url) as resp:
            async with PartFile(target) as out:
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    digest.update(chunk)
                    await out.write(chunk)
        return digest.hexdigest()

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(url, folder / f"{i}.bin")) for i, url in enumerate(urls)]
    return [t.result() for t in tasks]


async def session_per_download(session, urls, folder, limit):
    """Ignores the session it was given and opens a new ClientSession (and connection) per download."""
    gate = asyncio.Semaphore(limit)

    async def one(url, target):
        digest = hashlib.sha256()
        async with gate, aiohttp.ClientSession() as own, own.get(url) as resp:
            resp.raise_for_status()
            async with PartFile(target) as out:
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    digest.update(chunk)
                    await out.write(chunk)
        return digest.hexdigest()

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(url, folder / f"{i}.bin")) for i, url in enumerate(urls)]
    return [t.result() for t in tasks]


async def no_limit(session, urls, folder, limit):
    """Everything right except the limit: all downloads start at once (the session has no connector limit)."""

    async def one(url, target):
        digest = hashlib.sha256()
        async with session.get(url) as resp:
            resp.raise_for_status()
            async with PartFile(target) as out:
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    digest.update(chunk)
                    await out.write(chunk)
        return digest.hexdigest()

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(url, folder / f"{i}.bin")) for i, url in enumerate(urls)]
    return [t.result() for t in tasks]


async def digests_as_they_finish(session, urls, folder, limit):
    """Appends each digest when its download finishes: the list is in finishing order, not url order."""
    gate, digests = asyncio.Semaphore(limit), []

    async def one(url, target):
        digest = hashlib.sha256()
        async with gate, session.get(url) as resp:
            resp.raise_for_status()
            async with PartFile(target) as out:
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    digest.update(chunk)
                    await out.write(chunk)
        digests.append(digest.hexdigest())

    async with asyncio.TaskGroup() as tg:
        for i, url in enumerate(urls):
            tg.create_task(one(url, folder / f"{i}.bin"))
    return digests


async def gathered_downloads(session, urls, folder, limit):
    """gather() instead of a TaskGroup: after one download fails, the others keep running."""
    gate = asyncio.Semaphore(limit)

    async def one(url, target):
        digest = hashlib.sha256()
        async with gate, session.get(url) as resp:
            resp.raise_for_status()
            async with PartFile(target) as out:
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    digest.update(chunk)
                    await out.write(chunk)
        return digest.hexdigest()

    return await asyncio.gather(*(one(url, folder / f"{i}.bin") for i, url in enumerate(urls)))


WRONG = [
    Wrong("fetch_all", "the stub's status == 200 and except Exception", popular_pattern, r"status == 200"),
    Wrong("fetch_all", "parse() inside a catch-all try", parse_inside_the_try, r"parse\(\) outside the try"),
    Wrong("fetch_all", "catches ClientError but not TimeoutError", client_error_only, r"catch TimeoutError"),
    Wrong("fetch_all", "str(exc) as the timeout's reason", blank_timeout_reason, r"str\(TimeoutError\(\)\)"),
    Wrong("fetch_all", "requests one after another", one_after_another, r"one after another"),
    Wrong("fetch_all", "gather leaves requests running", gathered, r"gather\(\) leaves them running"),
    Wrong(
        "fetch_all",
        "per-request timeout replaces the session's",
        own_request_timeout,
        r"copy session\.timeout",
    ),
    Wrong("download_all", "download_naive: file work on the loop", download_naive_in_a_pool, r"to_thread"),
    Wrong("download_all", "writes in place, no .part", straight_to_the_target, r"straight to the final name"),
    Wrong(
        "download_all",
        ".part left after a failure",
        part_file_never_cleaned,
        r"delete the temporary file on any failure",
    ),
    Wrong("download_all", "no raise_for_status", status_never_checked, r"raise_for_status"),
    Wrong("download_all", "a session per download", session_per_download, r"session you were given"),
    Wrong("download_all", "no concurrency limit", no_limit, r"Semaphore\(limit\)"),
    Wrong(
        "download_all", "digests in finishing order", digests_as_they_finish, r"order the downloads finished"
    ),
    Wrong(
        "download_all", "gather leaves downloads running", gathered_downloads, r"TaskGroup.*cancels the rest"
    ),
]

CHECKS = {
    "fetch_all": lambda answer, lab: nb05.check_fetch_all(answer, lab.server),
    "download_all": lambda answer, lab: nb05.check_download_all(answer, lab.server),
}
