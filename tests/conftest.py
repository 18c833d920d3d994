"""Shared test setup: notebook kernels must not see PYTEST_CURRENT_TEST.

ipykernel stops forwarding output written straight to file descriptor 1/2 (by subprocesses, or C
code) when PYTEST_CURRENT_TEST is in its environment, and pytest sets it while nbval starts each
notebook's kernel. Notebooks that show a script's output (asyncio.run in a subprocess, uvloop)
would then store output that the test run cannot see. So we start nbval's kernels without it.
"""

from __future__ import annotations

import functools

from tools.runner import kernel_environment

try:
    import nbval.kernel as _nbval_kernel
except ImportError:  # nbval not installed: only the helper tests can run
    _nbval_kernel = None

if _nbval_kernel is not None:
    _start_new_kernel = _nbval_kernel.start_new_kernel

    @functools.wraps(_start_new_kernel)
    def _start_without_pytest_marker(*args, **kwargs):
        kwargs["env"] = kernel_environment()
        return _start_new_kernel(*args, **kwargs)

    _nbval_kernel.start_new_kernel = _start_without_pytest_marker
