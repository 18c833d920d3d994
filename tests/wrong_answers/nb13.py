"""Wrong answers for notebook 13 · Shared state and synchronisation."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from helpers.checks import nb13

from . import Wrong

# ------------------------------------------------------------------ single_flight


def plain_dict_cache(fetch):
    """The notebook's racy cache: checked before the await, filled after it."""
    cache = {}

    async def get(key):
        if key not in cache:
            cache[key] = await fetch(key)
        return cache[key]

    return get


def one_lock_for_everything(fetch):
    """No stampede, but one lookup at a time for every key."""
    cache = {}
    lock = asyncio.Lock()

    async def get(key):
        async with lock:
            if key not in cache:
                cache[key] = await fetch(key)
            return cache[key]

    return get


def caches_the_task(fetch):
    """Single flight by keeping the task forever: a failed fetch is cached along with the good ones."""
    tasks = {}

    async def get(key):
        if key not in tasks:
            tasks[key] = asyncio.ensure_future(fetch(key))
        return await asyncio.shield(tasks[key])

    return get


def lock_per_key(fetch):
    """Double-checked locking per key: waiters retry after a failure instead of sharing it."""
    cache = {}
    locks = defaultdict(asyncio.Lock)

    async def get(key):
        if key in cache:
            return cache[key]
        async with locks[key]:
            if key not in cache:
                cache[key] = await fetch(key)
            return cache[key]

    return get


def first_caller_fetches_inline(fetch):
    """Later callers wait on a future the first caller resolves: cancel the first and they wait forever."""
    cache = {}
    waiting = {}

    async def get(key):
        if key in cache:
            return cache[key]
        if key in waiting:
            return await waiting[key]
        future = asyncio.get_running_loop().create_future()
        waiting[key] = future
        try:
            value = await fetch(key)
        except Exception as exc:
            future.set_exception(exc)
            raise
        finally:
            del waiting[key]
        cache[key] = value
        future.set_result(value)
        return value

    return get


# ------------------------------------------------------------------ request_log


class AttributeRequestLog:
    """The notebook's global, as an attribute: one current id for every task."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current = "-"

    @contextlib.contextmanager
    def request(self, request_id: str) -> Iterator[None]:
        previous, self.current = self.current, request_id
        try:
            yield
        finally:
            self.current = previous

    def info(self, message: str) -> None:
        self.lines.append(f"[{self.current}] {message}")


class ThreadLocalRequestLog(AttributeRequestLog):
    """threading.local: per thread, and every task shares the loop's thread."""

    def __init__(self) -> None:
        self.lines = []
        self._local = threading.local()

    @property  # type: ignore[override]
    def current(self) -> str:
        return getattr(self._local, "id", "-")

    @current.setter
    def current(self, value: str) -> None:
        self._local.id = value


class TaskKeyedRequestLog:
    """A dict keyed by the current task: fine across tasks, lost in threads and child tasks."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ids: dict[Any, str] = {}

    @contextlib.contextmanager
    def request(self, request_id: str) -> Iterator[None]:
        task = asyncio.current_task()
        previous = self.ids.get(task, "-")
        self.ids[task] = request_id
        try:
            yield
        finally:
            self.ids[task] = previous

    def info(self, message: str) -> None:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no event loop in this thread
            task = None
        self.lines.append(f"[{self.ids.get(task, '-')}] {message}")


class NoResetRequestLog:
    """A ContextVar, set but never reset: the id leaks out of the block."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._current = contextvars.ContextVar("request_id", default="-")

    @contextlib.contextmanager
    def request(self, request_id: str) -> Iterator[None]:
        self._current.set(request_id)
        yield

    def info(self, message: str) -> None:
        self.lines.append(f"[{self._current.get()}] {message}")


class ResetWithoutFinallyRequestLog(NoResetRequestLog):
    """Resets after the yield, but not in a `finally`: a request that raises keeps its id."""

    @contextlib.contextmanager
    def request(self, request_id: str) -> Iterator[None]:
        token = self._current.set(request_id)
        yield
        self._current.reset(token)


WRONG = [
    Wrong(
        "single_flight",
        "plain dict checked before the await",
        plain_dict_cache,
        r"check-then-act across an await",
    ),
    Wrong(
        "single_flight",
        "one lock around everything",
        one_lock_for_everything,
        r"one lock around the whole lookup",
    ),
    Wrong("single_flight", "caches the exception", caches_the_task, r"cached the exception"),
    Wrong("single_flight", "lock per key: waiters retry", lock_per_key, r"waiting callers fetched again"),
    Wrong(
        "single_flight",
        "first caller fetches inline",
        first_caller_fetches_inline,
        r"cancelled caller must not take the shared fetch down",
    ),
    Wrong("request_log", "one attribute for every task", AttributeRequestLog, r"one attribute, global"),
    Wrong("request_log", "threading.local", ThreadLocalRequestLog, r"threading\.local"),
    Wrong("request_log", "dict keyed by the current task", TaskKeyedRequestLog, r"to_thread.*current_task"),
    Wrong("request_log", "ContextVar never reset", NoResetRequestLog, r"leaks out of the block.*reset"),
    Wrong("request_log", "reset without finally", ResetWithoutFinallyRequestLog, r"`finally`"),
]

CHECKS = {
    "single_flight": lambda answer, lab: nb13.check_single_flight(answer),
    "request_log": lambda answer, lab: nb13.check_request_log(answer),
}
