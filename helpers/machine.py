"""What the machine can give a CPU demo right now: usable cores, load, and a quick calibration.

    from helpers import machine

    room = machine.calibrate()           # two spinning processes for about 0.3 s
    print(f"{room.got:.2f} cores of {room.workers} for the calibration")
    need = room.expect(strict=1.3, floor=0.5)   # 1.3 on an idle machine, less on a busy one

On a hub thirty kernels share the cores, so a claim like "two processes keep two cores busy" only
holds when two cores are free. A cell measures what it can get (``calibrate``), then asserts its
claim relative to that (``Capacity.expect``): on an idle machine (CI runs such cells ``solo``) the
strict figure, so a real regression still fails; on a busy one a figure scaled by the share the
calibration got, never below what holds under any load (``floor``).

The calibration starts ``workers`` Python processes (``sys.executable``, no fork: a kernel may have
threads); once all have started they spin together for ``seconds`` of wall-clock time and report the
CPU time they got. Their sum divided by the wall time is how many cores the machine gave them, at most
``workers``.

Under ``make test`` the cells that calibrate run ``solo`` (nothing else runs), so the machine must be
idle there: the test run sets ``LAB_EXPECT_IDLE=1`` in the kernels' environment, and a calibration that
finds the cores busy twice in a row raises ``BusyMachineError`` instead of letting the cell quietly
assert the weaker claim. A regression can therefore not hide behind "the machine was busy" in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

__all__ = [
    "EXPECT_IDLE",
    "IDLE_SHARE",
    "BusyMachineError",
    "Capacity",
    "calibrate",
    "calibrate_core",
    "load_average",
    "usable_cores",
]

IDLE_SHARE = 0.85  # the calibration's processes got at least this share of their cores: an idle machine
EXPECT_IDLE = "LAB_EXPECT_IDLE"  # set (to anything) where the machine must be idle: the test run's kernels


class BusyMachineError(RuntimeError):
    """The machine was busy where it must be idle (``LAB_EXPECT_IDLE`` is set)."""


_SPIN = """
import json, sys, time
windows, seconds = int(sys.argv[1]), float(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()  # all spinners start together
spans = []
for _ in range(windows):
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds:
        pass
    spans.append((time.perf_counter() - wall0, time.process_time() - cpu0))
print(json.dumps(spans), flush=True)
"""


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the OS has one, else os.cpu_count()."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load_average() -> float | None:
    """The one-minute load average (runnable processes), or None where the OS has none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class Capacity:
    """The result of one calibration."""

    cores: int  # usable cores (affinity)
    load: float | None  # one-minute load average when measured
    workers: int  # spinning processes the calibration started
    got: float  # cores they actually got: sum of their CPU seconds / wall seconds, 0 .. workers

    @property
    def share(self) -> float:
        """The fraction of what the calibration asked for that it got, 0 .. 1."""
        return max(0.0, min(1.0, self.got / self.workers))

    @property
    def idle(self) -> bool:
        """True when the calibration got (almost) all it asked for: assert the strict claim."""
        return self.share >= IDLE_SHARE

    def expect(self, strict: float, floor: float) -> float:
        """``strict`` on an idle machine; else from ``floor`` towards ``strict`` by the share measured."""
        if self.idle:
            return strict
        return floor + (strict - floor) * self.share


def calibrate(workers: int = 2, seconds: float = 0.3, windows: int = 3) -> Capacity:
    """Spin ``workers`` processes together for ``seconds`` and measure how many cores they got.

    The time is cut into ``windows`` equal windows and the best one counts: a blip (another process
    waking for a few milliseconds) only lowers one window, while lasting load lowers them all. With
    ``LAB_EXPECT_IDLE`` set, a busy result is measured once more and raises if it is busy again.
    """
    if workers < 1 or seconds <= 0 or windows < 1:
        raise ValueError("calibrate needs at least one worker, one window and a positive duration")
    room = _measure(workers, seconds, windows)
    if room.idle or not os.environ.get(EXPECT_IDLE):
        return room
    again = _measure(workers, seconds, windows)
    if not again.idle:
        raise BusyMachineError(
            f"{EXPECT_IDLE} is set, but {workers} spinning process(es) got only {room.got:.2f} and then "
            f"{again.got:.2f} cores (idle means {IDLE_SHARE:.0%} of {workers}; load {again.load}): "
            "something else is using the cores while a solo cell runs"
        )
    return again


def calibrate_core() -> Capacity:
    """Does this kernel get one whole core right now? For a claim about one process's speed (I/O
    overlapping, session reuse, a free loop's heartbeat): one spinner, 0.1 s, about 0.15 s in all."""
    return calibrate(workers=1, seconds=0.1)


def _measure(workers: int, seconds: float, windows: int) -> Capacity:
    """One calibration: start the spinners, let them spin together, return the best window's cores."""
    load = load_average()
    command = [sys.executable, "-c", _SPIN, str(windows), str(seconds / windows)]
    spinners = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    try:
        for spinner in spinners:  # wait until every interpreter has started: startup is not measured
            assert spinner.stdout is not None and spinner.stdout.readline().strip() == "ready"
        for spinner in spinners:
            assert spinner.stdin is not None
            spinner.stdin.write("go\n")
            spinner.stdin.flush()
        spans = [json.loads(spinner.communicate(timeout=60 + 10 * seconds)[0]) for spinner in spinners]
    finally:
        for spinner in spinners:
            if spinner.poll() is None:
                spinner.kill()
                spinner.wait()
    per_window = [
        sum(min(1.0, cpu / wall) if wall > 0 else 0.0 for wall, cpu in (s[w] for s in spans))
        for w in range(windows)
    ]
    return Capacity(cores=usable_cores(), load=load, workers=workers, got=max(per_window))
