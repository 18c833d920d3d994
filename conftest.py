"""Test setup for nbval's notebook kernels, wherever the notebooks are collected from.

- Kernels must not see PYTEST_CURRENT_TEST: ipykernel stops forwarding output written straight to
  file descriptor 1/2 (by subprocesses, or C code) when it is in its environment, and pytest sets it
  while nbval starts each notebook's kernel. Notebooks that show a script's output (asyncio.run in a
  subprocess, uvloop) would then store output that the test run cannot see.
- Before each ``solution`` cell, the learner stub and its check run in the same kernel, and the check
  must reject the stub with a hint (tests/stub_checks.py).
- Under two xdist workers, the cells of notebooks marked ``solo`` in course.toml run alone (below).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools import catalog
from tools.runner import kernel_environment

try:
    import fcntl
except ImportError:  # Windows: no flock; the solo rule is then not enforced
    fcntl = None  # type: ignore[assignment]

try:
    import nbval.kernel as _nbval_kernel
    import nbval.plugin as _nbval_plugin
except ImportError:  # nbval not installed: only the helper tests can run
    _nbval_kernel = None

if _nbval_kernel is not None:
    _start_new_kernel = _nbval_kernel.start_new_kernel

    @functools.wraps(_start_new_kernel)
    def _start_without_pytest_marker(*args, **kwargs):
        kwargs["env"] = kernel_environment()
        return _start_new_kernel(*args, **kwargs)

    _nbval_kernel.start_new_kernel = _start_without_pytest_marker

    sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
    import stub_checks

    stub_checks.install(_nbval_plugin.IPyNbCell)


# ---- two workers, and the notebooks that must run alone ------------------------------------------
# `make test` runs on two pytest-xdist workers (``--dist loadfile``: a notebook's cells stay in order in
# one kernel). Most tests wait on sockets and timers and share the machine well; a notebook marked
# ``solo = true`` in course.toml measures CPU time or CPU ratios, and each of its cells runs while no
# other test runs. Every test takes a shared file lock, a solo one an exclusive lock; a turnstile lock
# in front keeps a waiting solo test from being starved by the other worker's stream of tests.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "solo: runs while no other test runs (see conftest.py)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    solo = {nb.path for nb in catalog.notebooks() if nb.solo}
    for item in items:
        if item.path in solo:
            item.add_marker(pytest.mark.solo)


@contextlib.contextmanager
def _taking_turns(item: pytest.Item) -> Iterator[None]:
    workerinput = getattr(item.config, "workerinput", None)
    if workerinput is None or fcntl is None:  # one process (or Windows): nothing runs beside us
        yield
        return
    stem = Path(tempfile.gettempdir()) / f"asyncio-lab-tests-{workerinput['testrunuid']}"
    with open(f"{stem}.turnstile", "a") as turnstile, open(f"{stem}.lock", "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            solo = item.get_closest_marker("solo") is not None
            fcntl.flock(lock, fcntl.LOCK_EX if solo else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with _taking_turns(item):
        return (yield)
