"""Measure the lab server the way the notebooks use it: in-process, one ClientSession.

    python -m tools.bench_labserver            # prints two figures
    python -m tools.bench_labserver --get-seconds 5

Prints the wall time of 200 concurrent ``/delay/0.5`` requests (best of
``--repeat`` runs, each run listed: other load on the machine only ever adds
time, so the best run is the fairest figure) and the plain ``/get`` rate with
50 concurrent clients.  Exits 1 if the best of the 200 delayed runs takes
longer than 1.0 s: notebook 05's "concurrent beats sequential" demo relies
on the server not being the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from helpers import labserver

DELAYED_REQUESTS = 200
DELAY = 0.5
BUDGET = 1.0


async def delayed_burst(url: str, count: int) -> float:
    """Wall time of `count` concurrent /delay/0.5 requests over one session."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> None:
            async with session.get(f"{url}/delay/{DELAY}") as resp:
                resp.raise_for_status()
                await resp.read()

        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(count):
                tg.create_task(one())
        return time.perf_counter() - started


async def get_rate(url: str, clients: int, seconds: float) -> float:
    """Requests per second for GET /get with `clients` concurrent loops."""
    done = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:

        async def client(deadline: float) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.get(f"{url}/get") as resp:
                    resp.raise_for_status()
                    await resp.read()
                done += 1

        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(clients):
                tg.create_task(client(started + seconds))
        return done / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--get-seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    with labserver.start() as server:
        asyncio.run(delayed_burst(server.url, 20))  # warm-up: imports, first connections
        walls, peaks = [], []
        for _ in range(args.repeat):
            server.reset()
            walls.append(asyncio.run(delayed_burst(server.url, DELAYED_REQUESTS)))
            peaks.append(server.stats()["peak_in_flight"])
        rate = asyncio.run(get_rate(server.url, args.clients, args.get_seconds))

    wall = min(walls)
    verdict = "ok" if wall <= BUDGET else f"TOO SLOW (budget {BUDGET:.1f} s)"
    runs = ", ".join(f"{w:.3f}" for w in walls)
    print(
        f"{DELAYED_REQUESTS} x /delay/{DELAY}: {wall:.3f} s wall (best of {runs}), "
        f"server peak in flight {max(peaks)}  [{verdict}]"
    )
    print(f"/get with {args.clients} concurrent clients for {args.get_seconds:g} s: {rate:,.0f} requests/s")
    return 0 if wall <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
