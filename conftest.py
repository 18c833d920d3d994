"""Test setup for nbval's notebook kernels, wherever the notebooks are collected from.

- Kernels must not see PYTEST_CURRENT_TEST: ipykernel stops forwarding output written straight to
  file descriptor 1/2 (by subprocesses, or C code) when it is in its environment, and pytest sets it
  while nbval starts each notebook's kernel. Notebooks that show a script's output (asyncio.run in a
  subprocess, uvloop) would then store output that the test run cannot see.
- Before each ``solution`` cell, the learner stub and its check run in the same kernel, and the check
  must reject the stub with a hint (tests/stub_checks.py).
- Under xdist workers, notebook cells tagged ``solo`` run while no other test runs (below), and the
  kernels get ``LAB_EXPECT_IDLE=1``: a cell whose ``helpers.machine.calibrate()`` finds the machine busy
  there fails instead of asserting only its busy-machine claim.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.runner import kernel_environment

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))  # stub_checks and turns live there
import turns

try:
    import nbval.kernel as _nbval_kernel
    import nbval.plugin as _nbval_plugin
except ImportError:  # nbval not installed: only the helper tests can run
    _nbval_kernel = None

if _nbval_kernel is not None:
    _start_new_kernel = _nbval_kernel.start_new_kernel

    @functools.wraps(_start_new_kernel)
    def _start_without_pytest_marker(*args, **kwargs):
        # Under xdist (make test) calibrating cells run solo, so they must find the machine idle:
        # helpers.machine raises instead of quietly asserting the weaker, busy-machine claim.
        idle = {"LAB_EXPECT_IDLE": "1"} if os.environ.get("PYTEST_XDIST_WORKER") else {}
        kwargs["env"] = kernel_environment(idle)
        return _start_new_kernel(*args, **kwargs)

    _nbval_kernel.start_new_kernel = _start_without_pytest_marker

    import stub_checks

    stub_checks.install(_nbval_plugin.IPyNbCell)


# ---- several workers, and the cells that must run alone ------------------------------------------
# `make test` runs on pytest-xdist workers (``--dist loadscope``: a notebook, a test module or a test
# class is one unit of work, so a notebook's cells stay in order in one kernel). Most tests wait on
# sockets and timers and share the machine well. A notebook cell tagged ``solo`` measures CPU time or
# CPU ratios (threads against processes, a profile, the pure-Python Task), and runs while no other test
# runs (the file locks in tests/turns.py).


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        cell = getattr(item, "cell", None)  # an nbval item: its notebook cell
        if cell is not None and "solo" in cell.get("metadata", {}).get("tags", []):
            item.add_marker(pytest.mark.solo)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with turns.taking_turns(item):
        return (yield)
