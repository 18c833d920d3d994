"""What notebook 17 needs outside its cells: a lock that knows its owner, and programs that hang.

    from helpers.nb17_support import OwnedLock, command
    ledger = OwnedLock("ledger")           # an asyncio.Lock that records which task holds it
    async with ledger:
        assert ledger.owner is asyncio.current_task()
    proc = await asyncio.create_subprocess_exec(*command("blocked", 60, "--dump-after", 0.5), stderr=PIPE)

``command(program, *args)`` is the argv that runs one of the child programs below with the kernel's own
Python (``python -m helpers.nb17_support PROGRAM ...``). They hang on purpose, so they live here and
never in a cell, and any ``faulthandler`` timer is armed in the child only. The programs:

- ``blocked SECONDS [--dump-after S] [--debug]``: an asyncio program whose task ``export_report``
  calls a blocking function (``render_pdf``: ``time.sleep(SECONDS)``) on the loop's thread.
  ``--dump-after S`` arms ``faulthandler.dump_traceback_later(S, exit=True)``; ``--debug`` runs the loop
  in debug mode, whose "Executing … took …" lines go to stderr.
- ``on-signal``: like ``blocked 60``, with ``faulthandler.register(SIGUSR1)``; prints ``ready`` on
  stdout just before it blocks, then dumps its stack on stderr each time it receives ``SIGUSR1``
  (Linux and macOS: Windows has no ``SIGUSR1`` and no ``faulthandler.register``).
- ``deadlock [--dump-after S]``: two tasks, each holding one ``asyncio.Lock`` and waiting for the
  other's; prints ``ready`` once both are stuck. The loop itself is idle, waiting in ``select``.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import sys
import time
from typing import Any, Literal

__all__ = ["OwnedLock", "command"]


class OwnedLock(asyncio.Lock):
    """An ``asyncio.Lock`` that remembers which task holds it: ``lock.owner`` (None when free).

    asyncio's own Lock records no owner — any task may release it — so a dump of the tasks can tell
    who *waits* for a lock but not who *holds* it. This subclass fills in the missing half.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.owner: asyncio.Task[Any] | None = None

    async def acquire(self) -> Literal[True]:
        await super().acquire()
        self.owner = asyncio.current_task()
        return True

    def release(self) -> None:
        self.owner = None
        super().release()

    def __repr__(self) -> str:
        holder = self.owner.get_name() if self.owner is not None else None
        return f"<OwnedLock {self.name!r} held by {holder!r}>"


def command(program: str, *args: object) -> list[str]:
    """The argv that runs child ``program`` with ``args`` (see the module docstring)."""
    return [sys.executable, "-m", "helpers.nb17_support", program, *map(str, args)]


# ------------------------------------------------------------------ the child programs


def render_pdf(seconds: float) -> None:
    time.sleep(seconds)  # stands in for any blocking call: a sync driver, a big parse, a C library


async def export_report(seconds: float, ready: bool = False) -> None:
    await asyncio.sleep(0.01)
    if ready:
        print("ready", flush=True)
    render_pdf(seconds)  # BUG (on purpose): blocks the loop's only thread


async def _blocked_main(seconds: float, ready: bool) -> None:
    await asyncio.create_task(export_report(seconds, ready), name="export")


async def _transfer(first: asyncio.Lock, second: asyncio.Lock, arrived: list[str], name: str) -> None:
    async with first:
        arrived.append(name)
        await asyncio.sleep(0.01)  # the other task takes its first lock meanwhile
        async with second:
            pass


async def _deadlock_main() -> None:
    accounts, ledger, arrived = asyncio.Lock(), asyncio.Lock(), list[str]()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_transfer(accounts, ledger, arrived, "alice"), name="alice")
        tg.create_task(_transfer(ledger, accounts, arrived, "bob"), name="bob")
        await asyncio.sleep(0.05)
        print("ready", flush=True)


def main(argv: list[str]) -> None:
    program, *args = argv
    if "--dump-after" in args:
        i = args.index("--dump-after")
        # Armed here, in the child: dump every thread's stack to stderr after S seconds, then exit(1).
        faulthandler.dump_traceback_later(float(args[i + 1]), exit=True)
        del args[i : i + 2]
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    logging.basicConfig(format="%(name)s: %(message)s")  # debug mode's reports, one line each
    if program == "blocked":
        asyncio.run(_blocked_main(float(args[0]), ready=False), debug=debug)
    elif program == "on-signal":
        import signal

        faulthandler.register(signal.SIGUSR1)  # dump on demand: `kill -USR1 PID`
        asyncio.run(_blocked_main(60, ready=True))
    elif program == "deadlock":
        asyncio.run(_deadlock_main())
    else:
        raise SystemExit(f"unknown program {program!r}")
    faulthandler.cancel_dump_traceback_later()


if __name__ == "__main__":
    main(sys.argv[1:])
