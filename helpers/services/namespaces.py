"""Namespaces: one PostgreSQL schema and one Redis key prefix per (learner, notebook), and their resets."""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg
    import redis.asyncio

NAME_MAX = 32  # keeps "nbNN_<name>" far below PostgreSQL's 63-byte identifier limit
_NAME_RE = re.compile(rf"[a-z][a-z0-9_]{{0,{NAME_MAX - 1}}}")


@dataclass(frozen=True)
class Namespace:
    """Where one learner's work for one notebook lives: ``schema`` in Postgres, ``key_prefix`` in Redis."""

    name: str  # learner namespace, already safe: [a-z][a-z0-9_]*
    notebook: str  # two digits, e.g. "08"

    def __post_init__(self) -> None:
        # Validated here too, so a hand-built Namespace cannot reach into someone else's keys.
        if not _NAME_RE.fullmatch(self.name):
            raise ValueError(
                f"namespace name must match [a-z][a-z0-9_]*, at most {NAME_MAX} characters: {self.name!r}"
            )
        if not re.fullmatch(r"\d{2}", self.notebook):
            raise ValueError(f"notebook must be two digits like '08': {self.notebook!r}")

    @property
    def schema(self) -> str:
        return f"nb{self.notebook}_{self.name}"

    @property
    def key_prefix(self) -> str:
        # ":" cannot occur in a name, so no learner's prefix is a prefix of another's.
        return f"{self.name}:nb{self.notebook}:"


def namespace(notebook: int | str) -> Namespace:
    """The namespace of the current learner (``LAB_NAMESPACE``, default the login name) for a notebook."""
    return Namespace(name=_learner_name(), notebook=_notebook_number(notebook))


def _learner_name() -> str:
    raw = os.environ.get("LAB_NAMESPACE", "").strip()
    if not raw:
        try:
            raw = getpass.getuser()
        except Exception:  # noqa: BLE001 - containers may run as a uid with no passwd entry
            raw = "learner"
    return safe_name(raw)


def safe_name(raw: str) -> str:
    """Lowercase ASCII letters, digits and single underscores, starting with a letter, bounded length."""
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")
    tag = hashlib.sha256(raw.encode()).hexdigest()[:8]
    if not name:  # e.g. a name written only in a non-Latin script: keep learners apart by a hash
        return f"u_{tag}"
    if not name[0].isalpha():
        name = f"u_{name}"
    if len(name) > NAME_MAX:  # truncate, but keep two long names that share a start distinct
        name = f"{name[: NAME_MAX - 9].rstrip('_')}_{tag}"
    return name


def _notebook_number(notebook: int | str) -> str:
    if isinstance(notebook, bool):
        raise TypeError("notebook must be a number like 8 or '08', not a bool")
    if isinstance(notebook, str) and re.fullmatch(r"\s*\d{1,2}\s*", notebook):
        notebook = int(notebook)
    if isinstance(notebook, int) and 0 <= notebook <= 99:
        return f"{notebook:02d}"
    raise ValueError(f"notebook must be a number from 0 to 99 like 8 or '08', got {notebook!r}")


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier in double quotes, with embedded quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


async def reset_postgres(conn: asyncpg.Connection | asyncpg.Pool, ns: Namespace) -> None:
    """Drop this namespace's schema with everything in it and create it empty. Other schemas are untouched."""
    schema = quote_ident(ns.schema)
    # Without arguments asyncpg sends both statements in one simple query: one round trip, one transaction.
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")


# SCAN walks the whole keyspace, not only the prefix: on a class's shared Redis, every learner's keys.
# The server's default COUNT of 10 makes that thousands of round trips for a class; 1000 keeps it short.
SCAN_COUNT = 1000


async def delete_prefix(client: redis.asyncio.Redis, prefix: str, *, batch: int = 500) -> int:
    """Delete every key that starts with ``prefix`` (SCAN, never FLUSHDB); return how many were deleted."""
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"  # escape glob characters in MATCH
    deleted, pending = 0, []
    async for key in client.scan_iter(match=pattern, count=SCAN_COUNT):
        # Belt and braces: only ever delete what really starts with our prefix.
        text = key.decode(errors="replace") if isinstance(key, bytes) else key
        if text.startswith(prefix):
            pending.append(key)
        if len(pending) >= batch:
            deleted += await client.delete(*pending)
            pending = []
    if pending:
        deleted += await client.delete(*pending)
    return deleted


async def reset_redis(client: redis.asyncio.Redis, ns: Namespace, *, batch: int = 500) -> int:
    """Delete the keys under ``ns.key_prefix`` (SCAN, never FLUSHDB); return how many were deleted."""
    return await delete_prefix(client, ns.key_prefix, batch=batch)


async def reset(
    ns: Namespace,
    *,
    pg: asyncpg.Connection | asyncpg.Pool | None = None,
    redis: redis.asyncio.Redis | None = None,
) -> int:
    """Reset this namespace in whichever of ``pg`` / ``redis`` is given; return the Redis keys deleted."""
    if pg is None and redis is None:
        raise TypeError("reset() needs pg=<asyncpg connection or pool> and/or redis=<redis.asyncio client>")
    if pg is not None:
        await reset_postgres(pg, ns)
    return await reset_redis(redis, ns) if redis is not None else 0
