"""Wrong answers for notebook 15 · Subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import re
from asyncio.subprocess import DEVNULL, PIPE

from helpers.checks import nb15

from . import Wrong

# ------------------------------------------------------------------ run_all


async def gather_without_limit(commands, limit, timeout):
    """Kills and reaps on timeout, but starts every child at once: `limit` is ignored."""

    async def run_one(argv):
        proc = await asyncio.create_subprocess_exec(*argv, stdout=PIPE, stderr=DEVNULL)
        try:
            async with asyncio.timeout(timeout):
                out, _ = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.communicate()
            return "timeout", ""
        return proc.returncode, out.decode()

    return await asyncio.gather(*(run_one(argv) for argv in commands))


def limited(run_one):
    """The right shape around a wrong `run_one(argv, timeout)`: a semaphore and a TaskGroup."""

    async def run_all(commands, limit, timeout):
        slots = asyncio.Semaphore(limit)

        async def guarded(argv):
            async with slots:
                return await run_one(argv, timeout)

        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(guarded(argv)) for argv in commands]
        return [t.result() for t in tasks]

    return run_all


async def wait_then_read(argv, timeout):
    """wait() with stdout=PIPE, then read: the child that prints 1 MiB blocks on a full pipe."""
    proc = await asyncio.create_subprocess_exec(*argv, stdout=PIPE, stderr=DEVNULL)
    try:
        async with asyncio.timeout(timeout):
            await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return "timeout", ""
    return proc.returncode, (await proc.stdout.read()).decode()


async def timeout_without_kill(argv, timeout):
    """Gives up waiting at the timeout, but leaves the child running."""
    proc = await asyncio.create_subprocess_exec(*argv, stdout=PIPE, stderr=DEVNULL)
    try:
        async with asyncio.timeout(timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        return "timeout", ""
    return proc.returncode, out.decode()


async def kill_without_wait(argv, timeout):
    """Kills the late child but returns before reaping it."""
    proc = await asyncio.create_subprocess_exec(*argv, stdout=PIPE, stderr=DEVNULL)
    try:
        async with asyncio.timeout(timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        return "timeout", ""
    return proc.returncode, out.decode()


async def one_by_one(commands, limit, timeout):
    """Right per child, but each child is awaited before the next starts."""
    results = []
    for argv in commands:
        results.append(await limited(timeout_then_reap)([argv], limit, timeout))
    return [r[0] for r in results]


async def timeout_then_reap(argv, timeout):
    proc = await asyncio.create_subprocess_exec(*argv, stdout=PIPE, stderr=DEVNULL)
    try:
        async with asyncio.timeout(timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        return "timeout", ""
    return proc.returncode, out.decode()


async def in_finishing_order(commands, limit, timeout):
    """Appends each result when its child finishes: the order of the commands is lost."""
    slots, results = asyncio.Semaphore(limit), []

    async def guarded(argv):
        async with slots:
            results.append(await timeout_then_reap(argv, timeout))

    async with asyncio.TaskGroup() as tg:
        for argv in commands:
            tg.create_task(guarded(argv))
    return results


# ------------------------------------------------------------------ tail_lines


async def communicate_then_filter(cmd, pattern):
    """communicate() then split: every line arrives only after the child has exited."""
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=PIPE, stderr=DEVNULL)
    out, _ = await proc.communicate()
    for line in out.decode().splitlines():
        if re.search(pattern, line):
            yield line


async def no_kill_on_early_stop(cmd, pattern):
    """Streams correctly, but when the consumer stops early the child is left running."""
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=PIPE, stderr=DEVNULL)
    async for raw in proc.stdout:
        line = raw.decode().rstrip("\n")
        if re.search(pattern, line):
            yield line
    await proc.wait()


async def kill_without_reaping(cmd, pattern):
    """Kills the child in `finally`, but never waits for it."""
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=PIPE, stderr=DEVNULL)
    finished = False
    try:
        async for raw in proc.stdout:
            line = raw.decode().rstrip("\n")
            if re.search(pattern, line):
                yield line
        finished = True
    finally:
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()


async def yields_bytes(cmd, pattern):
    """Matches on the decoded text but yields the raw bytes."""
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=PIPE, stderr=DEVNULL)
    finished = False
    try:
        async for raw in proc.stdout:
            if re.search(pattern, raw.decode()):
                yield raw
        finished = True
    finally:
        if not finished:
            proc.kill()
        await proc.wait()


WRONG = [
    Wrong("run_all", "gather without a limit", gather_without_limit, r"gather without a limit"),
    Wrong("run_all", "wait() with PIPE and a big output", limited(wait_then_read), r"pipe-buffer deadlock"),
    Wrong(
        "run_all", "timeout without kill", limited(timeout_without_kill), r"a timeout does not stop the child"
    ),
    Wrong("run_all", "kill without wait", limited(kill_without_wait), r"kill\(\) only sends a signal"),
    Wrong("run_all", "one child at a time", one_by_one, r"one by one"),
    Wrong("run_all", "results in finishing order", in_finishing_order, r"input order"),
    Wrong(
        "tail_lines",
        "communicate() used for streaming",
        communicate_then_filter,
        r"communicate\(\) returns only",
    ),
    Wrong(
        "tail_lines",
        "no kill when the consumer stops",
        no_kill_on_early_stop,
        r"stop the child when the consumer stops early",
    ),
    Wrong("tail_lines", "kill without wait", kill_without_reaping, r"not reaped"),
    Wrong("tail_lines", "yields bytes", yields_bytes, r"decode"),
]

CHECKS = {
    "run_all": lambda answer, lab: nb15.check_run_all(answer),
    "tail_lines": lambda answer, lab: nb15.check_tail_lines(answer),
}
