"""Run a server you wrote in a background thread with its own event loop.

    from helpers import serving

    with serving.app_in_thread(make_app) as served:          # make_app() -> aiohttp.web.Application
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{served.url}/hello") as resp: ...

    with serving.streams_in_thread(handle_client) as served:  # asyncio.start_server's callback
        reader, writer = await asyncio.open_connection(served.host, served.port)

Why a thread: a server started on the notebook's own loop keeps tasks alive after the cell that
started it, and the kernel does not run them between cells. In a thread of its own the server keeps
answering while the notebook's cells come and go, and leaving the ``with`` block stops it there:
``runner.cleanup()`` for an app (its ``on_shutdown`` and ``cleanup_ctx`` run, in-flight requests get
``shutdown_timeout`` seconds), ``close()`` and ``wait_closed()`` for a streams server. Everything the
server creates (an asyncpg pool in ``cleanup_ctx``, say) lives on the server's loop, as it would in
production. Only loopback addresses are used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from aiohttp import web

__all__ = ["LoopThread", "ServedApp", "ServedStreams", "app_in_thread", "streams_in_thread"]

T = TypeVar("T")
HOST = "127.0.0.1"


class LoopThread:
    """An event loop running in a daemon thread; hand it coroutines from any thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the thread's loop; the future resolves with its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run ``coro`` on the thread's loop and wait for it (blocks the calling thread)."""
        return self.submit(coro).result(timeout)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` running on the thread's loop, without blocking the caller's loop."""
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self) -> None:
        """Cancel what is still running there, stop the loop, join the thread, close the loop."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(concurrent.futures.TimeoutError):
            self.run(_cancel_all_but_current(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


async def _cancel_all_but_current() -> None:
    others = asyncio.all_tasks() - {asyncio.current_task()}
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


class ServedApp:
    """An ``aiohttp.web`` application served on 127.0.0.1 from a thread (see :func:`app_in_thread`)."""

    def __init__(self, thread: LoopThread, runner: web.AppRunner, port: int) -> None:
        self.thread = thread
        self.runner = runner
        self.host = HOST
        self.port = port
        self.url = f"http://{HOST}:{port}"

    @property
    def app(self) -> web.Application:
        return self.runner.app


class ServedStreams:
    """An ``asyncio.start_server`` server on 127.0.0.1 in a thread (see :func:`streams_in_thread`)."""

    def __init__(self, thread: LoopThread, server: asyncio.Server, port: int) -> None:
        self.thread = thread
        self.server = server
        self.host = HOST
        self.port = port


@contextlib.contextmanager
def app_in_thread(
    make_app: Callable[[], web.Application], *, shutdown_timeout: float = 2.0
) -> Iterator[ServedApp]:
    """Serve ``make_app()`` until the block ends, then shut it down gracefully.

    ``make_app`` is called in the server's thread, so whatever the app's start-up creates belongs to
    the server's loop. ``shutdown_timeout`` is how long in-flight requests may take to finish.
    """
    thread = LoopThread("served-app")
    try:
        runner, port = thread.run(_start_app(make_app, shutdown_timeout))
    except BaseException:
        thread.stop()
        raise
    try:
        yield ServedApp(thread, runner, port)
    finally:
        try:
            thread.run(runner.cleanup(), timeout=shutdown_timeout + 5)
        finally:
            thread.stop()


async def _start_app(
    make_app: Callable[[], web.Application], shutdown_timeout: float
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(make_app(), access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]


@contextlib.contextmanager
def streams_in_thread(
    handle_client: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]], **options: Any
) -> Iterator[ServedStreams]:
    """Serve ``asyncio.start_server(handle_client, ...)`` until the block ends.

    ``options`` go to ``start_server`` (``limit=``, ``backlog=`` ...). On the way out the server stops
    accepting, the handlers still running are cancelled, every connection is closed and
    ``wait_closed()`` is awaited.
    """
    thread = LoopThread("served-streams")
    handlers: set[asyncio.Task[Any]] = set()

    async def handle_until_shutdown(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handle_client(reader, writer)
        except asyncio.CancelledError:
            pass  # only the shutdown below cancels a handler: the connection ends here
        finally:
            handlers.discard(task)
            writer.close()  # whatever the handler did, its connection is closed when it ends

    try:
        server = thread.run(asyncio.start_server(handle_until_shutdown, HOST, 0, **options))
    except BaseException:
        thread.stop()
        raise
    try:
        yield ServedStreams(thread, server, server.sockets[0].getsockname()[1])
    finally:
        try:
            thread.run(_close_streams_server(server, handlers))
        finally:
            thread.stop()


async def _close_streams_server(server: asyncio.Server, handlers: set[asyncio.Task[Any]]) -> None:
    server.close()
    # Since Python 3.12.1 wait_closed() also waits for every connection to close: the handlers
    # still running are cancelled, and each closes its connection as it ends. The timeout keeps
    # a stuck handler from hanging the cell.
    for task in list(handlers):
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 2)
