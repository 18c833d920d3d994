"""Child programs for notebook 14 (streams and servers): ``python -m helpers.nb14_support NAME ...``.

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpers.nb14_support", "serve", "--delay", "0.5", stdout=PIPE
    )
    # first line: "listening on 127.0.0.1:PORT"; then GET /slow?n=1 answers "done 1" after 0.5 s

- ``serve [--delay SECONDS]``: an ``aiohttp.web`` server on 127.0.0.1, on a port the OS chooses.
  ``GET /slow?n=N`` waits DELAY seconds (default 0.5), then answers ``done N``. SIGTERM (caught with
  ``loop.add_signal_handler``) and SIGINT (``asyncio.run`` cancels the main task, then raises
  ``KeyboardInterrupt``) both shut it down gracefully: stop listening, let the requests in flight
  finish, run the clean-up, exit with code 0. Every step is one line on stdout, flushed at once.
- ``send HOST PORT MIB [--no-wait-closed]``: connect, write MIB MiB, ``writer.close()``, then
  ``await writer.wait_closed()`` unless told not to, and let ``asyncio.run`` return: what reaches
  the server shows whether the program waited for its bytes to leave.

Nothing is written to stderr: a kernel shows its children's stderr in the cell's output.
"""

from __future__ import annotations

import asyncio
import signal
import sys

__all__ = ["main"]

HOST = "127.0.0.1"


def say(text: str) -> None:
    print(text, flush=True)  # flushed: the parent reads each line as it happens


async def serve(delay: float) -> None:
    from aiohttp import web  # imported here so that `send` starts fast

    in_flight = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight
        in_flight += 1
        say(f"request started ({in_flight} in flight)")
        try:
            await asyncio.sleep(delay)
        finally:
            in_flight -= 1
        say(f"request finished ({in_flight} still in flight)")
        return web.Response(text=f"done {request.query.get('n', '?')}")

    async def on_shutdown(app: web.Application) -> None:
        # aiohttp calls this after it has closed the listening socket, before it waits for handlers.
        say(f"stopped listening; waiting for {in_flight} request(s) in flight")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.on_shutdown.append(on_shutdown)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    stop = asyncio.Event()
    # POSIX only: on Windows add_signal_handler raises NotImplementedError.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    say(f"listening on {HOST}:{runner.addresses[0][1]}")
    try:
        await stop.wait()
        say("SIGTERM: shutting down")
    except asyncio.CancelledError:
        say("SIGINT: asyncio.run cancelled the main task: shutting down")
        raise  # asyncio.run turns it into KeyboardInterrupt once we are done
    finally:
        await runner.cleanup()  # stop listening, finish what is in flight, run the clean-up
        say("clean-up done")


async def send(host: str, port: int, mib: float, wait_closed: bool) -> None:
    _, writer = await asyncio.open_connection(host, port)
    writer.write(b"x" * int(mib * 1024 * 1024))
    writer.close()
    if wait_closed:
        await writer.wait_closed()  # returns once every byte has left and the socket is closed


def main(argv: list[str]) -> int:
    # A parent that ignores SIGINT passes that on: restore the handler asyncio.run expects.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    name, *args = argv
    if name == "serve":
        delay = float(args[args.index("--delay") + 1]) if "--delay" in args else 0.5
        try:
            asyncio.run(serve(delay))
        except KeyboardInterrupt:
            say("KeyboardInterrupt reached the top: exiting with code 0")
        return 0
    if name == "send":
        host, port, mib = args[0], int(args[1]), float(args[2])
        asyncio.run(send(host, port, mib, wait_closed="--no-wait-closed" not in args))
        return 0
    raise SystemExit(f"unknown program {name!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
