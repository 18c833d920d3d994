"""Under strict nbval, every exercise check must reject the learner's stub, with a hint.

Before nbval runs a ``solution`` cell, the same kernel runs that cell's learner stub
(``helpers.checks.stub_of``) and then its check cell, and the check must fail with ``CheckFailed``
whose message carries a ``hint:``. Then nbval goes on as usual: the solution replaces the stub and
its check must pass with the stored output. This shares the kernel, the lab server and everything
the notebook set up with the strict run, instead of executing a whole learner edition again.
(``tests/test_exercises.py`` checks, without running anything, that no other cell depends on a
solution; set ``LAB_FULL_LEARNER_RUN=1`` to also execute every learner notebook end to end.)
"""

from __future__ import annotations

from typing import Any

from helpers.checks import stub_of

TIMEOUT = 300  # seconds for the stub and its check, like one nbval cell


def run_in_kernel(kernel: Any, code: str, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    """Execute ``code`` in nbval's kernel (not stored in its history); return its iopub outputs."""
    msg_id = kernel.execute_cell_input(code, allow_stdin=False)
    kernel.await_reply(msg_id, timeout=timeout)
    outputs = []
    while True:
        msg = kernel.get_message(stream="iopub", timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue  # a message of an earlier cell: nbval skips these too
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return outputs
        if msg["msg_type"] in ("stream", "error", "execute_result", "display_data"):
            outputs.append({"type": msg["msg_type"], **msg["content"]})


def stub_problem(kernel: Any, solution_source: str, check_source: str) -> str | None:
    """What is wrong with how the check treats the stub, or None when it rejects it with a hint."""
    run_in_kernel(kernel, stub_of(solution_source))
    errors = [out for out in run_in_kernel(kernel, check_source) if out["type"] == "error"]
    if not errors:
        return "the check passed the unsolved stub"
    first = errors[0]
    if first["ename"] != "CheckFailed":
        return f"the stub made the check raise {first['ename']}: {first['evalue']}"
    if "hint:" not in first["evalue"]:
        return f"the check rejected the stub without a hint: {first['evalue']}"
    return None


def install(cell_class: Any) -> None:
    """Make nbval's cell item run the stub check before every ``solution`` cell (once, however often called)."""
    if getattr(cell_class, "_stub_checks_installed", False):
        return
    cell_class._stub_checks_installed = True
    original = cell_class.runtest

    def runtest(self: Any) -> None:
        if "solution" in self.cell.get("metadata", {}).get("tags", []) and not self.options["skip"]:
            cells = self.parent.nb.cells
            index = next(i for i, cell in enumerate(cells) if cell is self.cell)
            problem = stub_problem(self.parent.kernel, self.cell.source, cells[index + 1].source)
            self.user_properties.append(("stub_rejected", problem is None))
            if problem:
                self.raise_cell_error(f"learner stub of this exercise: {problem}")
        original(self)

    cell_class.runtest = runtest


def pytest_configure(config: Any) -> None:
    """As a plugin (``-p stub_checks``), for notebooks outside tests/, whose conftest installs it."""
    import nbval.plugin

    install(nbval.plugin.IPyNbCell)
