"""What a notebook cell left running: the tasks it started that have not finished.

The kernel runs every cell inside tasks of its own, so "nothing left running" means "nothing that
this cell started": take a snapshot ``before = asyncio.all_tasks()`` at the start of the cell and
compare with it at the end. Notebooks 03 and 04 print ``started_since(before)``; the exercise checks
use ``alive_since`` to find and stop what a learner's code left behind.
"""

from __future__ import annotations

import asyncio
from typing import Any


def alive_since(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Tasks created after the snapshot ``before`` that have not finished."""
    return [task for task in asyncio.all_tasks() - before if not task.done()]


def started_since(before: set[asyncio.Task[Any]]) -> list[str]:
    """Names of the tasks created after the snapshot ``before`` that are still running, sorted."""
    return sorted(task.get_name() for task in alive_since(before))
