"""What notebook 16 (testing async code) needs outside a cell: a pytest runner and a virtual-time loop.

    from helpers import nb16_support
    run = await nb16_support.run_pytest({"shop.py": SHOP, "test_shop.py": TESTS})
    run.show()                                  # one line per test, then pytest's summary
    run.outcomes["test_shop.py::test_price"]    # "passed", "failed", "error" or "skipped"

``run_pytest`` writes the files into a fresh temporary folder and runs ``python -m pytest`` there in a
child process (``asyncio.create_subprocess_exec``), with an ini file of its own, so the repository's
``pyproject.toml`` and ``conftest.py`` are never picked up. Plugin autoloading is switched off and only
the plugins named are loaded (``-p asyncio`` by default): the run is faster, and its output does not
depend on what else is installed. Outcomes come from pytest's JUnit XML report; every path to the
temporary folder is cut out of what is returned, so a notebook can print it.

``VirtualTimeLoop`` is an asyncio event loop whose clock is virtual: whenever the loop has nothing to do
but wait for its next timer, the clock jumps to that timer instead of sleeping. ``asyncio.sleep``,
``asyncio.timeout``, ``wait_for`` and ``call_later`` then cost no real time. Use it with
``asyncio.Runner(loop_factory=VirtualTimeLoop)`` or pytest-asyncio's ``pytest_asyncio_loop_factories``
hook (pytest-asyncio 1.4+). Real I/O (sockets, subprocesses, threads) still takes real time while the
clock jumps past it, so a timeout around real I/O fires at once: keep virtual time for code that waits
only on timers and asyncio objects (fakes instead of the network).
"""

from __future__ import annotations

import asyncio
import os
import re
import selectors
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PytestRun", "run_pytest", "VirtualTimeLoop", "DEFAULT_INI", "STRICT_INI"]

# pytest-asyncio's defaults, written down: strict mode, and a fresh loop for every test and fixture.
DEFAULT_INI = """\
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
"""
# The same, with every warning turned into an error: a never-awaited coroutine or an unclosed
# session then fails a test instead of scrolling past in the warnings summary.
STRICT_INI = DEFAULT_INI + "filterwarnings = error\n"

_SUMMARY = re.compile(
    r"^=*\s*(\d+ (?:passed|failed|error|errors|skipped|deselected|warnings?|xfailed|xpassed)\b.*?)"
    r" in [\d.]+s\b"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PATH_TO_FILE = re.compile(
    r"(?:[A-Za-z]:)?[^\s:'\"(<]*[/\\](?=[^/\\\s:'\"]+\.py\b)"
)  # keep the file name only


@dataclass
class PytestRun:
    """The result of one pytest child run; ``outcomes`` and ``messages`` are keyed by test id."""

    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    summary: str = ""  # pytest's last line without its duration, e.g. "1 failed, 2 passed"
    output: str = ""  # stdout and stderr of pytest, paths cut down to file names
    returncode: int | None = None
    seconds: float = 0.0  # wall time of the whole child, start-up included
    test_seconds: float = 0.0  # the time pytest reports for the tests themselves (setup + call + teardown)

    def show(self, *, width: int = 150) -> None:
        """Print one line per test (outcome, id, first line of its message), then the summary."""
        for test, outcome in self.outcomes.items():
            message = self.messages.get(test, "")
            line = f"{outcome.upper():8} {test}" + (f"  — {message}" if message else "")
            print(line if len(line) <= width else line[: width - 1] + "…")
        print("pytest:", self.summary)

    def lines(self, *words: str) -> list[str]:
        """The lines of pytest's output that contain any of ``words``, stripped, each once."""
        seen: list[str] = []
        for raw in self.output.splitlines():
            line = re.sub(r"^E\s+", "", raw.strip())  # pytest marks the lines of an error with "E"
            if any(word in line for word in words) and line not in seen:
                seen.append(line)
        return seen


def _clean(text: str, folder: str) -> str:
    text = _ANSI.sub("", text)
    text = text.replace(folder + os.sep, "").replace(folder, ".")
    return _PATH_TO_FILE.sub("", text)


def _test_id(classname: str, name: str, modules: Iterable[str]) -> str:
    # JUnit gives "sub.test_file.Class" + "test_name"; find which written file the classname starts with.
    for module in sorted(modules, key=len, reverse=True):
        if classname == module or classname.startswith(module + "."):
            rest = classname[len(module) + 1 :]
            path = module.replace(".", "/") + ".py"
            return "::".join(part for part in (path, rest, name) if part)
    return f"{classname}::{name}"


def _parse_junit(report: Path, files: Iterable[str], folder: str, run: PytestRun) -> None:
    modules = [f[:-3].replace("/", ".") for f in files if f.endswith(".py")]
    for case in ET.parse(report).getroot().iter("testcase"):
        test = _test_id(case.get("classname", ""), case.get("name", ""), modules)
        outcome, message = "passed", ""
        for kind, word in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            found = case.find(kind)
            if found is not None:
                outcome, message = word, (found.get("message") or found.text or "").strip()
                break
        run.outcomes[test] = outcome
        if message:
            first = _clean(message.splitlines()[0], folder)
            # 'failed on teardown with "Failed: ..."' -> 'at teardown: Failed: ...'
            phase = re.fullmatch(r'failed on (setup|teardown) with "(.*?)"?', first)
            run.messages[test] = f"at {phase[1]}: {phase[2]}" if phase else first
        run.test_seconds += float(case.get("time", "0") or 0)


async def run_pytest(
    files: Mapping[str, str],
    *,
    ini: str = DEFAULT_INI,
    plugins: Iterable[str] = ("asyncio",),
    args: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> PytestRun:
    """Write ``files`` (relative path -> text) into a fresh folder and run pytest on it in a child process.

    ``plugins`` are loaded with ``-p`` (nothing else is: autoloading is off); ``env`` is added to the
    child's environment. A run still going after ``timeout`` seconds is killed and raises TimeoutError.
    """
    with tempfile.TemporaryDirectory(prefix="nb16-") as folder:
        for name, text in {**files, "pytest.ini": ini}.items():
            path = Path(folder, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        child_env |= {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "100"}
        # The child imports `helpers` from this checkout even where the package is not installed.
        root = str(Path(__file__).resolve().parent.parent)
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in (root, child_env.get("PYTHONPATH", "")) if p)
        child_env |= dict(env or {})
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            "pytest.ini",
            "--rootdir",
            ".",
            "-p",
            "no:cacheprovider",
        ]
        for plugin in plugins:
            argv += ["-p", plugin]
        argv += ["-q", "-rfE", "--color=no", "--junitxml", "report.xml", *args]
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=folder,
            env=child_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(timeout):
                stdout, _ = await proc.communicate()
        finally:
            if proc.returncode is None:  # timed out or cancelled: do not leave pytest running
                proc.kill()
                await proc.communicate()
        run = PytestRun(returncode=proc.returncode, seconds=time.perf_counter() - started)
        run.output = _clean(stdout.decode(errors="replace"), folder)
        for line in reversed(run.output.splitlines()):
            match = _SUMMARY.match(line.strip())
            if match:
                run.summary = match.group(1)
                break
        report = Path(folder, "report.xml")
        if report.exists():
            _parse_junit(report, files, folder, run)
        return run


class _JumpingSelector(selectors.BaseSelector):
    """A real selector that, rather than sleep until the loop's next timer, moves the loop's clock there."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._loop = loop
        self._real = selectors.DefaultSelector()

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)  # look at real I/O without waiting
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer at all: only real I/O can wake the loop, so wait for it
            return self._real.select(None)
        self._loop.advance(timeout)  # nothing to do until the next timer: be there at once
        return []

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` starts at 0 and jumps to the next timer whenever the loop is idle.

        with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
            runner.run(asyncio.sleep(3600))      # returns at once; loop.time() is then 3600.0

    Only the loop's clock is virtual: ``time.monotonic()`` and ``time.perf_counter()`` are not.
    """

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward; timers that fall due run on the loop's next pass."""
        self._virtual_now += seconds
