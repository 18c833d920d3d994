"""asyncio's debug mode for one ``async with`` block, with its log kept instead of printed.

    async with debug_mode(slow=0.05) as log:
        await asyncio.create_task(parse_report())
    log.messages   # e.g. ["Executing <Task … coro=<parse_report() …>> took 0.153 seconds"]

Notebooks 01 and 11 use it. Inside a notebook the kernel's loop is already running, so debug mode is
switched with ``loop.set_debug``; the ``"asyncio"`` logger's records (which carry file paths and ids)
go to a list instead of stderr, and the loop's and the logger's settings are restored on the way out,
even after an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator


class AsyncioLog(logging.Handler):
    """A logging handler that keeps the records it is given, and the name of the task it was made in."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        task = asyncio.current_task()
        # The task running the notebook cell: its own steps are Jupyter's work, not what we study.
        self.cell_task = task.get_name() if task is not None else None

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@contextlib.asynccontextmanager
async def debug_mode(slow: float = 0.1) -> AsyncIterator[AsyncioLog]:
    """Debug mode on the running loop, ``slow_callback_duration=slow``, for the block; yields its log."""
    loop, logger, log = asyncio.get_running_loop(), logging.getLogger("asyncio"), AsyncioLog()
    saved = loop.get_debug(), loop.slow_callback_duration, logger.propagate
    logger.addHandler(log)
    logger.propagate = False  # keep the records, and the file paths in them, out of the output
    loop.set_debug(True)
    loop.slow_callback_duration = slow
    await asyncio.sleep(0)  # on a running loop, set_debug takes full effect one iteration later
    try:
        yield log
    finally:
        loop.set_debug(saved[0])
        loop.slow_callback_duration = saved[1]
        await asyncio.sleep(0)
        logger.removeHandler(log)
        logger.propagate = saved[2]
