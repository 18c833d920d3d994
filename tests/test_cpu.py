"""helpers.cpu: the work functions are right, and a process pool can run them (they pickle)."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context

from helpers.cpu import count_primes, count_primes_timed, fib, hash_rounds, sleep_then_return, spin


def test_work_functions_compute_known_values() -> None:
    assert count_primes(100) == 25
    assert fib(20) == 6765
    assert len(hash_rounds(b"x", 3)) == 64
    assert sleep_then_return(0.0, "v") == "v"
    assert spin(0.01) > 0


def test_a_spawned_process_pool_can_import_them() -> None:
    # spawn is the strictest start method (the default on macOS and Windows): workers must import by name.
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        assert list(pool.map(count_primes, [100, 1000])) == [25, 168]


def test_timed_count_reports_cpu_time_of_its_own_thread() -> None:
    count, cpu = count_primes_timed(20_000)
    assert count == count_primes(20_000) and cpu > 0
    # Two threads under one GIL: each thread's CPU time excludes its waits for the lock, so the sum
    # never exceeds the wall time by more than timer noise (on a free-threaded build it may).
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(count_primes_timed, [20_000, 20_000]))
    wall = time.perf_counter() - started
    gil_enabled = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    assert sum(cpu for _, cpu in results) <= 1.1 * wall or not gil_enabled
