"""Checks for notebook 14 · Streams and servers.

    from helpers.checks import nb14
    await nb14.check_kv_server(make_kv_handler)
    await nb14.check_chat_app(make_chat_app)

Both judge behaviour over real sockets on 127.0.0.1: the learner's handler or app is served by
``helpers.serving`` in a thread of its own, and real clients talk to it from the notebook's loop.
For the line server, every connection is observed from the server's side: the peak of the
transport's write buffer after each ``write`` (both kernel buffers are shrunk to 64 KiB, so what a
slow reader leaves unread piles up where it can be seen), whether the handler closed the writer and
awaited ``wait_closed()``, and what it raised. A handler that keeps reading at the end of the stream
without ever waiting (``readline()`` returns ``b""`` at once, forever) is stopped by the check, so it
cannot spin the server's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from helpers import serving
from helpers.checks import exercise, expect

__all__ = ["check_kv_server", "check_chat_app", "LIMIT"]

LIMIT = 1024  # the server's line limit (start_server's limit=)
KIB = 1024
MIB = 1024 * KIB
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

EOF_HINT = (
    "when read_line() (or readline()) returns b'', the client has closed its side: leave the loop, then "
    "writer.close() and await writer.wait_closed()"
)
SPIN_HINT = (
    "at the end of the stream readline() returns b'' at once, every time: your loop kept reading without "
    "end. Stop when the line is b'' (while (line := await read_line(reader)) != b'': ...)"
)


class _ReadingAtEof(Exception):
    """Raised into a handler that keeps reading a stream that has ended."""


@dataclass
class _Connection:
    """What the server side of one connection did."""

    peak_buffer: int = 0
    closed: bool = False
    waited: bool = False
    spun: bool = False
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _small_socket_buffers(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * KIB)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * KIB)


def _observe(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, record: _Connection) -> None:
    """Wrap this writer's write/close/wait_closed and this reader's reads (instance attributes only)."""
    write, close, wait_closed = writer.write, writer.close, writer.wait_closed

    def observed_write(data: Any) -> None:
        write(data)
        record.peak_buffer = max(record.peak_buffer, writer.transport.get_write_buffer_size())

    def observed_close() -> None:
        record.closed = True
        close()

    async def observed_wait_closed() -> None:
        record.waited = True
        await wait_closed()

    writer.write = observed_write  # type: ignore[method-assign]
    writer.close = observed_close  # type: ignore[method-assign]
    writer.wait_closed = observed_wait_closed  # type: ignore[method-assign]
    reads_at_eof = [0]
    for name in ("readline", "readuntil", "readexactly", "read"):
        setattr(reader, name, _guarded(getattr(reader, name), reader, reads_at_eof))


def _guarded(read: Callable[..., Awaitable[bytes]], reader: asyncio.StreamReader, count: list[int]) -> Any:
    @functools.wraps(read)
    async def guarded(*args: Any, **kwargs: Any) -> bytes:
        if reader.at_eof():
            count[0] += 1
            if count[0] > 100:
                raise _ReadingAtEof
            await asyncio.sleep(0)  # a read at the end returns without waiting: let the loop breathe
        return await read(*args, **kwargs)

    return guarded


class _Server:
    """The learner's handler behind ``streams_in_thread``, each connection recorded."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle
        self.connections: list[_Connection] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        record = _Connection()
        self.connections.append(record)
        _small_socket_buffers(writer)
        _observe(writer, reader, record)
        try:
            await self.handle(reader, writer)
        except _ReadingAtEof:
            record.spun = True
        except Exception as exc:  # noqa: BLE001 - reported by the check as the learner's error
            record.error = exc
        finally:
            record.done.set()


async def _converse(served: serving.ServedStreams, *parts: bytes, pause: float = 0.0) -> list[bytes]:
    """Send ``parts`` (``pause`` seconds apart), close our side, and read every reply until the end."""
    reader, writer = await asyncio.open_connection(served.host, served.port)
    replies: list[bytes] = []
    try:
        for i, part in enumerate(parts):
            if i and pause:
                await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()
        writer.write_eof()
        async with asyncio.timeout(5):
            while line := await reader.readline():
                replies.append(line)
        return replies
    except OSError:  # ConnectionResetError, or ENOTCONN from write_eof()
        return replies  # the server dropped the connection: _finished() reports why
    except TimeoutError:
        expect(
            False,
            f"the connection stayed open after the client closed its side ({len(replies)} replies)",
            EOF_HINT,
        )
        raise
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _finished(record: _Connection) -> None:
    done = await asyncio.to_thread(record.done.wait, 5)
    expect(done, "the handler was still running 5 s after the client left", EOF_HINT)
    expect(not record.spun, "the handler kept calling readline() after the stream had ended", SPIN_HINT)
    if record.error is not None:
        kind = type(record.error).__name__
        hint = (
            "a line longer than the limit makes readline() raise ValueError (readuntil(): LimitOverrunError): "
            "catch it — read_line above does — and reply `ERROR line too long` instead of letting the exception "
            "end the connection"
            if isinstance(record.error, (ValueError, asyncio.LimitOverrunError))
            else "run your handler against a single client in a cell and read the traceback"
        )
        expect(False, f"your handler raised {kind}: {record.error}", hint)


def _expect_replies(got: list[bytes], wanted: list[bytes], what: str, hint: str) -> None:
    shown, expected = [line[:40] for line in got[:4]], wanted[:4]
    more = " ..." if max(len(got), len(wanted)) > 4 else ""
    expect(got == wanted, f"{what}: replies {shown!r}{more}, expected {expected!r}{more}", hint)


@exercise("kv_server", timeout=60)
async def check_kv_server(make_kv_handler: Callable[[], Handler]) -> str:
    server = _Server(make_kv_handler())
    with serving.streams_in_thread(server, limit=LIMIT) as served:
        await _check_protocol(served, server)
        await _check_split_and_long_lines(served, server)
        await _check_many_clients(served, server)
        await _check_slow_reader(served, server)
        _check_every_close(server)
    return "whole lines, one error per over-long line, a shared store, bounded buffer, clean closes"


async def _check_protocol(served: serving.ServedStreams, server: _Server) -> None:
    replies = await _converse(served, b"SET color blue sky\nGET color\nGET size\nPING\n")
    await _finished(server.connections[-1])
    _expect_replies(
        replies,
        [b"OK\n", b"VALUE blue sky\n", b"NOT FOUND\n", b"ERROR unknown command\n"],
        "SET color blue sky / GET color / GET size / PING",
        "reply one line per request, ending in b'\\n': OK, VALUE <value> (the rest of the SET line), "
        "NOT FOUND, ERROR unknown command",
    )


async def _check_split_and_long_lines(served: serving.ServedStreams, server: _Server) -> None:
    replies = await _converse(served, b"SET fruit ki", b"wi\nGET fruit\n", pause=0.3)
    await _finished(server.connections[-1])
    _expect_replies(
        replies,
        [b"OK\n", b"VALUE kiwi\n"],
        "a SET sent in two pieces 0.3 s apart",
        "TCP is a byte stream: a line can arrive in pieces, and read(n) returns whatever has arrived. "
        "Read whole lines (read_line, readline)",
    )
    replies = await _converse(served, b"SET size 42\nSET long " + b"a" * MIB + b"\nGET size\n")
    await _finished(server.connections[-1])
    errors = replies.count(b"ERROR line too long\n")
    expect(
        errors <= 1 and b"ERROR unknown command\n" not in replies,
        f"one line of 1 MiB got {errors} `ERROR line too long` replies and "
        f"{replies.count(b'ERROR unknown command' + bytes([10]))} `ERROR unknown command`",
        "after readline()'s ValueError the rest of the long line is still coming, and is read as new lines: "
        "skip the whole over-long line up to its newline (read_line above does, with readuntil + readexactly)",
    )
    _expect_replies(
        replies,
        [b"OK\n", b"ERROR line too long\n", b"VALUE 42\n"],
        f"a line of 1 MiB (the limit is {LIMIT} bytes) between two short ones",
        "a line longer than the limit must get exactly one `ERROR line too long` reply; the server then goes on "
        "(read whole lines with the limit — read_line returns None for such a line; read(n) knows no lines)",
    )


async def _check_many_clients(served: serving.ServedStreams, server: _Server) -> None:
    async def client(i: int) -> list[bytes]:
        return await _converse(served, f"SET key{i} value {i}\nGET key{i}\n".encode())

    # gather, not a TaskGroup: a failed expectation should reach the learner as itself, not in a group
    results = await asyncio.gather(*(client(i) for i in range(20)), return_exceptions=True)
    for i, result in enumerate(results):
        if isinstance(result, BaseException):
            raise result
        _expect_replies(
            result,
            [b"OK\n", f"VALUE value {i}\n".encode()],
            f"client {i} of 20 at once",
            "each connection runs its own handler task: keep per-connection state in local variables",
        )
    wanted = [f"VALUE value {i}\n".encode() for i in range(20)]
    got = await _converse(served, b"".join(f"GET key{i}\n".encode() for i in range(20)))
    _expect_replies(
        got,
        wanted,
        "a later client reading the 20 keys the others set",
        "keep one store for every connection: create the dict in make_kv_handler, outside handle()",
    )


async def _check_slow_reader(served: serving.ServedStreams, server: _Server) -> None:
    value, count = b"v" * 1000, 4096
    reader, writer = await asyncio.open_connection(served.host, served.port)
    try:
        _small_socket_buffers(writer)
        writer.write(b"SET big " + value + b"\n" + b"GET big\n" * count)
        await writer.drain()
        await asyncio.sleep(0.5)  # a slow client: reads nothing for a while
        writer.write_eof()
        replies = []
        with contextlib.suppress(OSError):
            async with asyncio.timeout(10):
                replies = [line async for line in reader]
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    record = server.connections[-1]
    await _finished(record)
    expect(
        len(replies) == count + 1 and replies[-1] == b"VALUE " + value + b"\n",
        f"{len(replies)} replies to {count + 1} requests from a slow reader",
        "answer every request, even when the client reads late",
    )
    expect(
        record.peak_buffer < MIB,
        f"the write buffer reached {record.peak_buffer / MIB:.1f} MiB against a client that read nothing for "
        f"0.5 s ({count} replies of 1 KiB)",
        "write() never waits: await writer.drain() after each reply, so a slow reader makes the handler wait "
        "instead of piling the replies up in memory",
    )


def _check_every_close(server: _Server) -> None:
    unclosed = sum(not c.closed for c in server.connections)
    expect(
        not unclosed,
        f"{unclosed} of {len(server.connections)} connections were not closed by the handler",
        EOF_HINT,
    )
    unwaited = sum(not c.waited for c in server.connections)
    expect(
        not unwaited,
        f"the handler returned without awaiting wait_closed() on {unwaited} of {len(server.connections)} "
        "connections",
        "close() only starts closing: await writer.wait_closed() after it, so the handler ends when the "
        "connection is really closed (and sees an error if closing failed)",
    )


WS_TIMEOUT = aiohttp.ClientWSTimeout(ws_close=1)
MISSED_HINT = (
    "send each text message to every connected client: keep the open WebSocketResponse objects in a set on the "
    "app, add each one after prepare(), and await send_str() for each of them"
)
LEFT_HINT = (
    "a client that left is still in your set, and sending to it raises: discard the websocket in a `finally` "
    "when its `async for` ends, and do not let one failed send stop the others (try/except around each send)"
)

SENDER_HINT = "the sender is a connected client too: it gets its own message (do not skip it in the loop)"


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> str | None:
    try:
        msg = await ws.receive(timeout=2)
    except TimeoutError:
        return None
    return msg.data if msg.type == aiohttp.WSMsgType.TEXT else None


async def _round(sender: str, text: str, clients: dict[str, Any], hint: str, when: str) -> None:
    try:
        await clients[sender].send_str(text)
    except ConnectionError:
        expect(False, f"{when}, the server had closed {sender}'s connection", hint)
    got = {name: await _receive(ws) for name, ws in clients.items()}
    missed = sorted(name for name, message in got.items() if message != text and name != sender)
    expect(
        not missed,
        f"{when}, {sender} sent {text!r}; client(s) {', '.join(missed)} got {[got[m] for m in missed]!r}",
        hint,
    )
    expect(
        got[sender] == text,
        f"{when}, {sender} sent {text!r} and got back {got[sender]!r}",
        hint if hint == LEFT_HINT else SENDER_HINT,
    )


@exercise("chat_app", timeout=40)
async def check_chat_app(make_chat_app: Callable[[], web.Application]) -> str:
    with serving.app_in_thread(make_chat_app) as served:
        async with aiohttp.ClientSession(served.url) as session, contextlib.AsyncExitStack() as stack:

            async def join() -> aiohttp.ClientWebSocketResponse:
                return await stack.enter_async_context(session.ws_connect("/chat", timeout=WS_TIMEOUT))

            clients = {name: await join() for name in ("A", "B", "C")}
            await asyncio.sleep(0.05)  # let the server's handlers register them
            await _round("A", "hello from A", clients, MISSED_HINT, "with three clients connected")
            await _round("B", "B here", clients, MISSED_HINT, "next")
            leaver = await join()
            await asyncio.sleep(0.05)
            await _round("C", "welcome D", {**clients, "D": leaver}, MISSED_HINT, "when D joined")
            await leaver.close()
            await asyncio.sleep(0.2)  # D's handler on the server has seen it leave by now
            await _round("C", "after D left", clients, LEFT_HINT, "after D disconnected")
            await _round("A", "still there?", clients, LEFT_HINT, "after D disconnected, again")
    return "every message reaches every connected client, and a client that leaves breaks nothing"
