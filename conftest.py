"""Test setup for nbval's notebook kernels, wherever the notebooks are collected from.

- Kernels must not see PYTEST_CURRENT_TEST: ipykernel stops forwarding output written straight to
  file descriptor 1/2 (by subprocesses, or C code) when it is in its environment, and pytest sets it
  while nbval starts each notebook's kernel. Notebooks that show a script's output (asyncio.run in a
  subprocess, uvloop) would then store output that the test run cannot see.
- Before each ``solution`` cell, the learner stub and its check run in the same kernel, and the check
  must reject the stub with a hint (tests/stub_checks.py).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from tools.runner import kernel_environment

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
