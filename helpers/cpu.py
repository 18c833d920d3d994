"""CPU-bound work for thread and process pool demos, importable so process pools can pickle it.

    from concurrent.futures import ProcessPoolExecutor
    from helpers.cpu import count_primes

    with ProcessPoolExecutor() as pool:
        counts = list(pool.map(count_primes, [200_000] * 4))

Why a module: with the spawn and forkserver start methods (the default on macOS and Windows, and
on Linux from Python 3.14) a worker process imports the function by its module name; a function
defined in a notebook lives in ``__main__`` of the kernel, which the worker cannot import.
"""

from __future__ import annotations

import hashlib
import time

__all__ = ["count_primes", "count_primes_timed", "fib", "hash_rounds", "spin", "sleep_then_return"]


def count_primes(limit: int) -> int:
    """How many primes are below ``limit``, by trial division: pure Python, holds the GIL."""
    count = 0
    for n in range(2, limit):
        if all(n % d for d in range(2, int(n**0.5) + 1)):
            count += 1
    return count


def count_primes_timed(limit: int) -> tuple[int, float]:
    """``count_primes(limit)`` and the CPU seconds the calling thread spent on it.

    CPU time only advances while the thread really executes, not while it waits for the GIL or for
    a core, so summing it over workers and dividing by the wall time says how many cores were busy.
    """
    started = time.thread_time()
    count = count_primes(limit)
    return count, time.thread_time() - started


def fib(n: int) -> int:
    """The n-th Fibonacci number, computed the slow recursive way on purpose."""
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def hash_rounds(data: bytes, rounds: int) -> str:
    """sha256 applied ``rounds`` times. hashlib releases the GIL for large inputs only."""
    digest = data
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


def spin(seconds: float) -> int:
    """Keep a core busy in pure Python for about ``seconds``; returns the loop count."""
    deadline = time.perf_counter() + seconds
    spins = 0
    while time.perf_counter() < deadline:
        spins += 1
    return spins


def sleep_then_return(seconds: float, value: object = None) -> object:
    """Blocking I/O stand-in: ``time.sleep`` releases the GIL, so threads do overlap it."""
    time.sleep(seconds)
    return value
