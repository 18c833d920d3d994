"""Under xdist, a test marked solo runs while no other test runs (tests/turns.py).

The locks are taken by ``turns.taking_turns(item)``; here threads play the workers, each with its own open
files, which is how flock tells two holders apart.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
import turns

if turns.fcntl is None:
    pytest.skip("no flock on this platform: the solo rule is not enforced", allow_module_level=True)


def fake_item(run_id: str, solo: bool) -> SimpleNamespace:
    return SimpleNamespace(
        config=SimpleNamespace(workerinput={"testrunuid": run_id}),
        get_closest_marker=lambda name: object() if solo and name == "solo" else None,
    )


def test_a_solo_test_overlaps_no_other_test() -> None:
    run_id, spans, lock = f"probe-{time.monotonic_ns()}", [], threading.Lock()

    def worker(name: str, solo: bool, repeat: int) -> None:
        for i in range(repeat):
            with turns.taking_turns(fake_item(run_id, solo)):
                started = time.monotonic()
                time.sleep(0.05)
                with lock:
                    spans.append((f"{name}{i}", solo, started, time.monotonic()))

    threads = [threading.Thread(target=worker, args=(f"shared{n}-", False, 8)) for n in range(3)]
    threads.append(threading.Thread(target=worker, args=("solo", True, 3)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    solos = [s for s in spans if s[1]]
    shared = [s for s in spans if not s[1]]
    assert len(solos) == 3 and len(shared) == 24
    for name, _, start, end in solos:
        beside = [other for other, _, a, b in shared if a < end and start < b]
        assert not beside, f"{name} ran beside {beside}"
    # Not vacuous: the shared tests themselves did run side by side.
    assert any(
        a2 < b
        for (_, _, _, b), (_, _, a2, _) in zip(
            sorted(shared, key=lambda s: s[2]), sorted(shared, key=lambda s: s[2])[1:], strict=False
        )
    )
