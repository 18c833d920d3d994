"""helpers.machine: the calibration sees what an idle machine gives, and notices when cores are busy.

Marked solo: under xdist the other workers would be the load. The busy case makes its own load, as
LAB_BUSY_CORES does in tests/test_wrong_answers.py: spinning processes, two per usable core.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from helpers import machine

pytestmark = pytest.mark.solo


@contextmanager
def spinners(count: int) -> Iterator[None]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.3)  # they are running by now
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_usable_cores_and_load() -> None:
    assert 1 <= machine.usable_cores() <= (__import__("os").cpu_count() or 1)
    load = machine.load_average()
    assert load is None or load >= 0


def test_expect_is_strict_when_idle_and_scaled_when_busy() -> None:
    idle = machine.Capacity(cores=2, load=0.1, workers=2, got=1.9)
    busy = machine.Capacity(cores=2, load=6.0, workers=2, got=0.8)
    assert idle.idle and idle.expect(strict=2.0, floor=1.0) == 2.0
    assert not busy.idle and busy.share == pytest.approx(0.4)
    assert busy.expect(strict=2.0, floor=1.0) == pytest.approx(1.4)
    with pytest.raises(ValueError):
        machine.calibrate(workers=0)


def test_an_idle_machine_gives_one_process_a_whole_core() -> None:
    room = machine.calibrate(workers=1)
    assert room.got > 0.8 and room.idle, room
    core = machine.calibrate_core()  # the notebooks' one-core check: one spinner, 0.1 s
    assert core.workers == 1 and core.idle, core


def test_the_calibration_notices_busy_cores() -> None:
    idle = machine.calibrate(workers=2)
    with spinners(2 * machine.usable_cores()):
        busy = machine.calibrate(workers=2)
    print(f"idle {idle.got:.2f} cores, busy {busy.got:.2f} cores of 2 (load {busy.load})")
    assert not busy.idle, busy
    assert busy.got < 0.75 * idle.got, (idle, busy)


def test_where_the_machine_must_be_idle_a_busy_calibration_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(machine.EXPECT_IDLE, "1")
    assert machine.calibrate(workers=1).idle  # idle: returns as usual
    with spinners(2 * machine.usable_cores()), pytest.raises(machine.BusyMachineError, match="solo cell"):
        machine.calibrate(workers=2)
