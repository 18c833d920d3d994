"""Wrong answers for notebook 14 · Streams and servers."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from helpers.checks import nb14

from . import Wrong

# ------------------------------------------------------------------ kv_server


async def read_line(reader):
    """The notebook's read_line: a line, None for an over-long line (skipped whole), b"" at the end."""
    too_long = False
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as exc:
            too_long = True
            await reader.readexactly(exc.consumed)
            continue
        except asyncio.IncompleteReadError as exc:
            return None if too_long else exc.partial
        return None if too_long else line


def replier(store):
    def reply_to(line):
        command, _, rest = line.decode().rstrip("\r\n").partition(" ")
        key, _, value = rest.partition(" ")
        if command == "SET" and key:
            store[key] = value
            return "OK"
        if command == "GET" and key:
            return f"VALUE {store[key]}" if key in store else "NOT FOUND"
        return "ERROR unknown command"

    return reply_to


def no_drain():
    """Right in every way but one: write() without drain(), so replies pile up for a slow reader."""
    reply_to = replier({})

    async def handle(reader, writer):
        while (line := await read_line(reader)) != b"":
            writer.write(("ERROR line too long" if line is None else reply_to(line)).encode() + b"\n")
        writer.close()
        await writer.wait_closed()

    return handle


def reads_chunks():
    """Treats each read(n) as a batch of whole lines: a line split across two packets is cut in two."""
    reply_to = replier({})

    async def handle(reader, writer):
        while chunk := await reader.read(65536):
            for line in chunk.splitlines():
                writer.write(reply_to(line).encode() + b"\n")
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    return handle


def catches_value_error_and_reads_on():
    """readline() with `except ValueError: reply ERROR; continue`: the rest of the long line comes back."""
    reply_to = replier({})

    async def handle(reader, writer):
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                writer.write(b"ERROR line too long\n")
                await writer.drain()
                continue
            if not line:
                break
            writer.write(reply_to(line).encode() + b"\n")
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    return handle


def no_limit_handling():
    """Plain readline(): the over-long line raises ValueError and ends the connection."""
    reply_to = replier({})

    async def handle(reader, writer):
        while line := await reader.readline():
            writer.write(reply_to(line).encode() + b"\n")
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    return handle


def store_per_connection():
    """The dict is created inside handle(): each connection has a store of its own."""

    async def handle(reader, writer):
        reply_to = replier({})
        while (line := await read_line(reader)) != b"":
            writer.write(("ERROR line too long" if line is None else reply_to(line)).encode() + b"\n")
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    return handle


def no_wait_closed():
    """close() and return: the handler never waits for the connection to be closed."""
    reply_to = replier({})

    async def handle(reader, writer):
        while (line := await read_line(reader)) != b"":
            writer.write(("ERROR line too long" if line is None else reply_to(line)).encode() + b"\n")
            await writer.drain()
        writer.close()

    return handle


def never_stops_at_eof():
    """`while True` with `continue` on an empty line: at the end of the stream it reads b"" forever."""
    reply_to = replier({})

    async def handle(reader, writer):
        while True:
            line = await read_line(reader)
            if not line:
                continue  # meant for the over-long line (None), also swallows b"" at the end
            writer.write(reply_to(line).encode() + b"\n")
            await writer.drain()

    return handle


# ------------------------------------------------------------------ chat_app

CLIENTS = web.AppKey("corpus_chat_clients", set)


def chat_app(broadcast):
    """An app whose /chat handler registers every websocket and calls ``broadcast(app, ws, text)``."""

    async def chat(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        request.app[CLIENTS].add(ws)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await broadcast(request.app, ws, msg.data)
        return ws  # the websocket is never taken out of the set

    def make_chat_app():
        app = web.Application()
        app[CLIENTS] = set()
        app.router.add_get("/chat", chat)
        return app

    return make_chat_app


async def to_everyone(app, sender, text):
    for ws in app[CLIENTS]:
        await ws.send_str(text)


async def to_the_sender_only(app, sender, text):
    await sender.send_str(text)


async def to_the_others(app, sender, text):
    for ws in list(app[CLIENTS]):
        if ws is not sender:
            await ws.send_str(text)


def removes_them_later(broadcast):
    """Like chat_app, but the handler discards its websocket in a finally."""

    async def chat(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        request.app[CLIENTS].add(ws)
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await broadcast(request.app, ws, msg.data)
        finally:
            request.app[CLIENTS].discard(ws)
        return ws

    def make_chat_app():
        app = web.Application()
        app[CLIENTS] = set()
        app.router.add_get("/chat", chat)
        return app

    return make_chat_app


WRONG = [
    Wrong("kv_server", "no drain", no_drain, r"drain\(\)"),
    Wrong("kv_server", "read(n) taken as whole lines", reads_chunks, r"byte stream"),
    Wrong(
        "kv_server",
        "readline's ValueError caught, reading on",
        catches_value_error_and_reads_on,
        r"skip the whole over-long line",
    ),
    Wrong("kv_server", "over-long line not handled", no_limit_handling, r"raised ValueError[\s\S]*catch it"),
    Wrong("kv_server", "a store per connection", store_per_connection, r"one store for every connection"),
    Wrong("kv_server", "close without wait_closed", no_wait_closed, r"wait_closed\(\)"),
    Wrong("kv_server", "reads at EOF forever", never_stops_at_eof, r"b'' at once, every time"),
    Wrong("chat_app", "a client that left stays in the set", chat_app(to_everyone), r"still in your set"),
    Wrong(
        "chat_app",
        "echo to the sender only",
        removes_them_later(to_the_sender_only),
        r"every connected client",
    ),
    Wrong("chat_app", "the sender skipped", removes_them_later(to_the_others), r"gets its own message"),
]

CHECKS = {
    "kv_server": lambda answer, lab: nb14.check_kv_server(answer),
    "chat_app": lambda answer, lab: nb14.check_chat_app(answer),
}
