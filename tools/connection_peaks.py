"""Measure how many PostgreSQL and Redis connections one learner's notebook opens at its peak.

    python -m tools connections                       # every notebook that uses PostgreSQL or Redis
    python -m tools connections notebooks/08_postgres_asyncpg.ipynb --namespace budget_probe

Each notebook runs in a fresh kernel (``tools.runner.run``; nothing is saved) with its own
``LAB_NAMESPACE``. A thread samples, every ``--interval`` seconds from connections of its own,
PostgreSQL's ``pg_stat_activity`` and Redis's ``CLIENT LIST``, and counts only the connections whose
client end belongs to the kernel or a process it started (matched by local port with psutil), so other
users of the same servers do not count. Afterwards the namespace is reset and its schemas dropped.
The figures feed ``helpers.classroom.PEAKS``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tools import catalog
from tools.runner import run, unexpected_errors

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Peaks:
    postgres: int = 0
    redis: int = 0
    samples: int = 0
    errors: list[str] = field(default_factory=list)


def _own_ports() -> dict[int, int]:
    """Local TCP port -> pid for every socket held by this process's descendants (the kernel)."""
    pids = {p.pid for p in psutil.Process().children(recursive=True)}
    ports = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.pid in pids and conn.laddr and conn.raddr:
            ports[conn.laddr.port] = conn.pid
    return ports


async def _sample(stop: threading.Event, peaks: Peaks, interval: float) -> None:
    import asyncpg
    import redis.asyncio

    from helpers import services

    pg = await asyncpg.connect(services.postgres_url())
    r = redis.asyncio.from_url(services.redis_url())
    try:
        while not stop.is_set():
            rows = await pg.fetch(
                "SELECT client_port FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
            clients = await r.client_list()
            ports = _own_ports()
            pg_count = sum(row["client_port"] in ports for row in rows)
            redis_count = sum(int(c["addr"].rpartition(":")[2]) in ports for c in clients)
            peaks.postgres = max(peaks.postgres, pg_count)
            peaks.redis = max(peaks.redis, redis_count)
            peaks.samples += 1
            await asyncio.sleep(interval)
    finally:
        await pg.close()
        await r.aclose()


async def _cleanup(name: str, number: int) -> None:
    import asyncpg
    import redis.asyncio

    from helpers import services

    ns = services.Namespace(name, f"{number:02d}")
    pg = await asyncpg.connect(services.postgres_url())
    try:
        async with redis.asyncio.from_url(services.redis_url()) as r:
            await services.reset(ns, pg=pg, redis=r)
        await pg.execute(f'DROP SCHEMA IF EXISTS "{ns.schema}" CASCADE')
    finally:
        await pg.close()


def measure(path: Path, name: str, interval: float) -> tuple[Peaks, list[str], float]:
    peaks = Peaks()
    stop = threading.Event()
    sampler = threading.Thread(target=lambda: asyncio.run(_sample(stop, peaks, interval)), daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        nb = run(path, env={"LAB_NAMESPACE": name})
    finally:
        took = time.perf_counter() - started
        time.sleep(interval * 2)
        stop.set()
        sampler.join(10)
    return peaks, unexpected_errors(nb), took


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools connections", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--namespace", default="budget_probe")
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args(argv)
    entries = {nb.path: nb for nb in catalog.notebooks()}
    paths = [p.resolve() for p in args.notebooks] or [
        path for path, nb in entries.items() if {"postgres", "redis"} & set(nb.services)
    ]
    print(f"{'notebook':<34} {'PostgreSQL':>10} {'Redis':>6} {'samples':>8} {'run':>7}")
    failed = False
    for path in paths:
        peaks, problems, took = measure(path, args.namespace, args.interval)
        number = int(path.name[:2])
        asyncio.run(_cleanup(args.namespace, number))
        print(f"{path.name:<34} {peaks.postgres:>10} {peaks.redis:>6} {peaks.samples:>8} {took:>6.1f}s")
        for problem in problems:
            failed = True
            print(f"    unexpected error: {problem}", file=sys.stderr)
    print(f"(python {sys.version.split()[0]}, pid {os.getpid()}, interval {args.interval} s)")
    return 1 if failed else 0
