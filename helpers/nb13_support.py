"""A demo notebook 13 needs outside a cell: an asyncio.Event set from another thread.

    from helpers import nb13_support
    late = await asyncio.to_thread(nb13_support.wake_up_from_thread, threadsafe=False)

The demo runs its own event loop in a worker thread, so nothing else (such as the kernel's own
traffic) wakes that loop up: how late the waiter wakes is then the effect of the call alone.
"""

from __future__ import annotations

import asyncio
import threading
import time

__all__ = ["wake_up_from_thread"]


def wake_up_from_thread(*, threadsafe: bool, set_after: float = 0.05, guard: float = 0.5) -> float:
    """Seconds from a thread's ``event.set()`` until the waiting coroutine runs.

    With ``threadsafe=False`` the thread calls ``event.set()`` directly (the mistake); with ``True`` it
    hands the call to the loop with ``loop.call_soon_threadsafe(event.set)``. A timer of ``guard``
    seconds is the only other thing that can wake the loop.
    """
    return asyncio.run(_measure(threadsafe, set_after, guard))


async def _measure(threadsafe: bool, set_after: float, guard: float) -> float:
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    set_at: list[float] = []

    def from_the_other_thread() -> None:
        time.sleep(set_after)
        set_at.append(time.perf_counter())
        if threadsafe:
            loop.call_soon_threadsafe(event.set)
        else:
            event.set()  # not thread-safe: the loop is asleep in select() and is not told

    thread = threading.Thread(target=from_the_other_thread)
    thread.start()
    guard_timer = loop.call_later(guard, lambda: None)  # the loop's next timer: wakes it at the latest
    try:
        await event.wait()
        woke = time.perf_counter()
    finally:
        guard_timer.cancel()
        thread.join()
    return woke - set_at[0]
