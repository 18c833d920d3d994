"""Checks for notebook 15 · Subprocesses.

    from helpers.checks import nb15
    await nb15.check_run_all(run_all)
    await nb15.check_tail_lines(tail_lines)

The children are the small programs of ``helpers.children``; each writes a file named after its pid
into a temporary folder as it starts, so a monitor task can count the children alive at once (a
child not yet reaped still has its pid). While a check runs, every ``asyncio.subprocess.Process``
created is recorded, and a completed ``wait()`` (``communicate()`` calls it too) marks it as reaped:
that tells "killed and reaped" from "killed and forgotten" without racing the child watcher.
Whatever the learner's code leaves running is killed, reaped and cancelled before the check ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from helpers import children
from helpers.checks import exercise, expect, raise_if_stub, stop_stray_tasks

__all__ = ["check_run_all", "check_tail_lines"]

FLOOD = 1024 * 1024  # far more than a pipe plus the loop's buffer hold: wait() alone deadlocks


class _Recorder:
    """Every Process created while active, and which of them a finished wait() has reaped."""

    def __init__(self) -> None:
        self.procs: list[Any] = []
        self.reaped: set[int] = set()

    def unreaped(self) -> list[Any]:
        return [p for p in self.procs if id(p) not in self.reaped]


@contextlib.contextmanager
def _recording() -> Iterator[_Recorder]:
    cls: Any = asyncio.subprocess.Process
    recorder = _Recorder()
    original_init, original_wait = cls.__init__, cls.wait

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        recorder.procs.append(self)

    async def wait(self: Any) -> int:
        code: int = await original_wait(self)
        recorder.reaped.add(id(self))
        return code

    cls.__init__, cls.wait = init, wait
    try:
        yield recorder
    finally:
        cls.__init__, cls.wait = original_init, original_wait


def _alive(pid_dir: Path) -> int:
    count = 0
    for entry in pid_dir.iterdir():
        try:
            os.kill(int(entry.name), 0)  # succeeds for a running child and for one not yet reaped
            count += 1
        except (ProcessLookupError, ValueError):
            pass
        except PermissionError:
            count += 1
    return count


async def _watch_peak(pid_dir: Path, peak: list[int]) -> None:
    while True:
        peak[0] = max(peak[0], _alive(pid_dir))
        await asyncio.sleep(0.005)


async def _clean_up(recorder: _Recorder, before: set[asyncio.Task[Any]]) -> None:
    await stop_stray_tasks(before)
    # Let the loop note the children that have just exited: kill() on one of those could read its
    # exit status before asyncio's child watcher does ("Unknown child process pid ...").
    await asyncio.sleep(0.05)
    for proc in recorder.procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(3):
                await proc.communicate()  # drains a full pipe too, so the reaping cannot hang


def _left_running(recorder: _Recorder) -> list[Any]:
    return [p for p in recorder.procs if p.returncode is None]


JOBS: list[
    tuple[tuple[Any, ...], int | str, str | None]
] = [  # (child program and arguments, expected status, expected stripped output)
    (("job", 0.3, 0, "alpha"), 0, "alpha"),
    (("job", 0.05, 3, "beta"), 3, "beta"),
    (("job", 30, 0, "stuck"), "timeout", None),
    (("flood", FLOOD), 0, None),
    (("job", 0.1, 0, "gamma"), 0, "gamma"),
    (("job", 0.1, 1, "delta"), 1, "delta"),
]

DEADLOCK_HINT = (
    "with stdout=PIPE, `await proc.wait()` never returns once the child has written more than the pipe and "
    "the loop buffer hold (the pipe-buffer deadlock): read while you wait — `await proc.communicate()`"
)


@exercise("run_all", timeout=40)
async def check_run_all(run_all: Callable[[list[list[str]], int, float], Awaitable[list[Any]]]) -> str:
    before = asyncio.all_tasks()
    limit, timeout = 2, 2.0  # room for a loaded machine: the stuck child sleeps 30 s
    with tempfile.TemporaryDirectory() as tmp, _recording() as recorder:
        pid_dir, peak = Path(tmp), [0]
        commands = [children.command(*argv, pid_dir=pid_dir) for argv, _, _ in JOBS]
        watcher = asyncio.create_task(_watch_peak(pid_dir, peak), name="peak watcher")
        try:
            # Awaited in this very task: the moment it returns shows what was killed and reaped.
            try:
                async with asyncio.timeout(12) as deadline:
                    results = await run_all(commands, limit, timeout)
            except TimeoutError:
                expect(not deadline.expired(), "run_all did not return within 12 s", DEADLOCK_HINT)
                raise
            except Exception as exc:
                raise_if_stub(exc)
                raise
            running, unreaped = _left_running(recorder), recorder.unreaped()
            await asyncio.sleep(0.3)  # a killed child is gone by now; one never killed still runs
            _check_results(results, limit, timeout, recorder, running, unreaped, peak[0])
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await _clean_up(recorder, before)
    return f"statuses and outputs in input order, at most {limit} children at once, the stuck one killed and reaped"


def _check_results(
    results: Any,
    limit: int,
    timeout: float,
    recorder: _Recorder,
    running: list[Any],
    unreaped: list[Any],
    peak: int,
) -> None:
    expect(
        isinstance(results, list) and len(results) == len(JOBS),
        f"returned {results!r:.120}, expected a list of {len(JOBS)} (status, output) pairs",
        "return one (exit code or 'timeout', output) pair per command, in the order of the commands",
    )
    statuses = [r[0] if isinstance(r, tuple) and len(r) == 2 else r for r in results]
    expect(
        statuses[3] != "timeout",
        f"the child that prints 1 MiB and exits at once was reported as {statuses[3]!r}",
        DEADLOCK_HINT,
    )
    still = _left_running(recorder)
    expect(
        not still,
        f"{len(still)} child(ren) still running after run_all returned (the one that sleeps 30 s)",
        "a timeout does not stop the child: on TimeoutError call proc.kill(), then await proc.wait() to reap it",
    )
    expect(
        not unreaped,
        f"{len(unreaped)} child(ren) killed but not reaped when run_all returned ({len(running)} not yet exited)",
        "kill() only sends a signal: await proc.wait() (or communicate()) after it, so the child is gone and "
        "its exit status collected before you return",
    )
    expect(
        peak <= limit,
        f"{peak} children were alive at once with limit={limit}",
        "start at most `limit` children at a time: gather without a limit starts them all; hold an "
        "asyncio.Semaphore(limit) around each child's whole life (start, communicate, kill, wait)",
    )
    expect(
        peak >= limit,
        f"only {peak} child alive at a time with limit={limit}",
        "run up to `limit` children at once (a TaskGroup of tasks sharing an asyncio.Semaphore), not one by one",
    )
    expected = [status for _, status, _ in JOBS]
    expect(
        statuses == expected,
        f"statuses {statuses!r}, expected {expected!r}",
        "give each job its own entry in input order: proc.returncode after communicate(), or 'timeout' if the "
        "child outlived `timeout` (collect results by index, not in the order the children finish)",
    )
    outputs = [r[1] for r in results]
    expect(
        all(isinstance(out, str) for out in outputs),
        f"outputs of types {sorted({type(out).__name__ for out in outputs})}",
        "decode what the child printed: stdout.decode()",
    )
    wanted = [(i, text) for i, (_, _, text) in enumerate(JOBS) if text is not None]
    expect(
        all(outputs[i].strip() == text for i, text in wanted)
        and outputs[3].count("x") == FLOOD - FLOOD // 64,
        f"outputs {[o[:12] for o in outputs]!r} do not match what the children printed",
        "return everything each child wrote to stdout (the second value of communicate()), decoded",
    )


TAIL_CHILD = ("lines", 4, 0.2, "tick")  # tick 1 at once, then one line every 0.2 s, exits after 0.8 s


@exercise("tail_lines", timeout=30)
async def check_tail_lines(tail_lines: Callable[[list[str], str], AsyncGenerator[str, None]]) -> str:
    before = asyncio.all_tasks()
    with _recording() as recorder:
        try:
            started = time.perf_counter()
            arrivals: list[tuple[float, Any]] = []
            try:
                async with (
                    asyncio.timeout(8),
                    contextlib.aclosing(tail_lines(children.command(*TAIL_CHILD), r"tick [13]")) as lines,
                ):
                    async for line in lines:
                        arrivals.append((time.perf_counter() - started, line))
            except Exception as exc:
                raise_if_stub(exc)
                raise
            ended = time.perf_counter() - started
            got = [line for _, line in arrivals]
            expect(
                not any(isinstance(line, bytes) for line in got),
                f"yielded bytes: {got!r}",
                "decode each line (line.decode()) and strip its newline before yielding it",
            )
            expect(
                [line.rstrip("\r\n") for line in got] == ["tick 1", "tick 3"],
                f"yielded {got!r}, expected ['tick 1', 'tick 3'] (pattern r'tick [13]')",
                "yield each line that re.search(pattern, line) matches, without its newline",
            )
            expect(
                ended - arrivals[0][0] > 0.4,
                f"the first match arrived only {ended - arrivals[0][0]:.2f} s before the child ended",
                "communicate() returns only when the child exits: read line by line as the lines come "
                "(`async for raw in proc.stdout`) and yield each match at once",
            )
            expect(
                not recorder.unreaped(),
                "the child was not reaped when the lines ran out",
                "after the last line, await proc.wait() to collect the child's exit status",
            )
            await _check_early_stop(tail_lines, recorder)
        finally:
            await _clean_up(recorder, before)
    return "matches arrive while the child runs; stopping early kills and reaps the child"


async def _check_early_stop(
    tail_lines: Callable[[list[str], str], AsyncGenerator[str, None]], recorder: _Recorder
) -> None:
    endless = children.command("lines", "forever", 0.02, "beat")
    async with asyncio.timeout(5), contextlib.aclosing(tail_lines(endless, r"beat 2$")) as lines:
        async for line in lines:
            first = line
            break
    expect(
        first.rstrip("\r\n") == "beat 2",
        f"from an endless child it yielded {first!r} first",
        "yield only matches",
    )
    proc = recorder.procs[-1]
    unreaped = id(proc) not in recorder.reaped
    await asyncio.sleep(0.3)  # a killed child is gone by now
    expect(
        proc.returncode is not None,
        "the consumer stopped after one line, and the endless child was still running 0.3 s later",
        "stop the child when the consumer stops early: in a `finally` around the loop, proc.kill() if "
        "proc.returncode is None, then await proc.wait()",
    )
    expect(
        not unreaped,
        "the consumer stopped early and the child was killed but not reaped",
        "after proc.kill(), await proc.wait() in the same `finally`, so the child is gone when aclose() returns",
    )
