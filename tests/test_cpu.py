"""helpers.cpu: the work functions are right, and a process pool can run them (they pickle)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from helpers.cpu import count_primes, fib, hash_rounds, sleep_then_return, spin


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
