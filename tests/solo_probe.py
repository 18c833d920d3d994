"""Probe tests for tests/test_solo.py (not collected by default: the name does not start with test_).

Each test records when it ran into the file named by ``SOLO_PROBE_LOG``; run on two workers, the
``solo`` one must not overlap any other.
"""

from __future__ import annotations

import os
import time

import pytest


def _record(name: str) -> None:
    started = time.monotonic()
    time.sleep(0.15)
    with open(os.environ["SOLO_PROBE_LOG"], "a") as log:
        log.write(f"{name} {started} {time.monotonic()}\n")


@pytest.mark.parametrize("n", range(6))
def test_shared(n: int) -> None:
    _record(f"shared{n}")


@pytest.mark.solo
def test_alone() -> None:
    _record("solo")
