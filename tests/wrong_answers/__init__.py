"""The corpus of wrong answers: plausible mistakes every exercise check must reject, with a hint naming them.

One module per notebook (``nb09.py`` …) defines ``WRONG``, a list of :class:`Wrong`, and ``CHECKS``, a
mapping from each exercise name (as in ``course.toml``) to a coroutine function ``judge(answer, lab)``
that calls the notebook's check the way its check cell does. ``tests/test_wrong_answers.py`` runs every
wrong answer against its check and requires a ``CheckFailed`` whose text matches ``names``: the
hint must point at *that* mistake, not merely fail.

A wrong answer is written the way a learner would write it: first the mistake the notebook itself
demonstrates, then the other usual ones. Keep each one small and say in ``mistake`` what it gets wrong.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from helpers.services import Namespace, postgres_url, redis_url
from helpers.services.namespaces import quote_ident, reset_redis


@dataclass(frozen=True)
class Wrong:
    """One wrong answer to one exercise."""

    exercise: str  # the exercise's name in course.toml, e.g. "rate_limit"
    mistake: str  # what it gets wrong, in a few words: the test id
    answer: Any  # the wrong function or class, as a learner would pass it to the check
    names: str  # a regular expression the CheckFailed text (problem and hint) must match


Judge = Callable[[Any, "Lab"], Awaitable[Any]]


@dataclass
class Lab:
    """What a check may need: the lab server, and this test's own namespace in PostgreSQL and Redis."""

    server: Any
    ns: Namespace
    _pool: Any = None
    _redis: Any = None
    _closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    async def pool(self, **options: Any) -> Any:
        """An asyncpg pool whose namespace schema exists and is empty (created on first use)."""
        if self._pool is None:
            import asyncpg

            self._pool = await asyncpg.create_pool(postgres_url(), min_size=1, max_size=10, **options)
            schema = quote_ident(self.ns.schema)
            await self._pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")

            async def close_pool() -> None:
                await self._pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                await self._pool.close()

            self._closers.append(close_pool)
        return self._pool

    async def redis(self) -> Any:
        """A redis.asyncio client; the namespace's keys are deleted before first use and at the end."""
        if self._redis is None:
            import redis.asyncio

            self._redis = redis.asyncio.Redis.from_url(redis_url())
            await reset_redis(self._redis, self.ns)

            async def close_redis() -> None:
                await reset_redis(self._redis, self.ns)
                await self._redis.aclose()

            self._closers.append(close_redis)
        return self._redis

    async def aclose(self) -> None:
        for close in reversed(self._closers):
            await close()


def corpus_namespace(notebook: int) -> Namespace:
    """A namespace of its own for each xdist worker, apart from every learner's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return Namespace(name=f"corpus_{worker}", notebook=f"{notebook:02d}")


@dataclass(frozen=True)
class Corpus:
    """One notebook's wrong answers and how to judge them."""

    notebook: int
    wrong: list[Wrong]
    checks: dict[str, Judge]


def corpus(notebook: int) -> Corpus | None:
    """The corpus module of a notebook, or None when it has none yet."""
    try:
        module = importlib.import_module(f"tests.wrong_answers.nb{notebook:02d}")
    except ModuleNotFoundError as exc:
        if exc.name != f"tests.wrong_answers.nb{notebook:02d}":
            raise
        return None
    return Corpus(notebook, list(module.WRONG), dict(module.CHECKS))
