"""A class on one PostgreSQL and Redis: will the connections suffice? ``python -m helpers class check``.

    python -m helpers class check --learners 30              # one verdict per service; exit 1 if too small
    python -m helpers class check --learners 30 --notebooks 08,09 --margin 5

The budget, per service::

    learners × peak connections per learner  ≤  limit − reserved − in use now − margin

PostgreSQL's limit is ``max_connections``, reserved is ``superuser_reserved_connections`` (plus
``reserved_connections`` on PostgreSQL 16+); Redis's limit is ``maxclients`` and reserves nothing.
"In use now" is what other clients hold while the check runs (this check's own connection excluded),
and the margin leaves room for the instructor's psql, monitoring and the progress board.
A learner runs one notebook at a time, so the per-learner peak is the largest of the notebooks counted;
two notebooks open in two kernels add up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

# Peak connections one learner's kernel holds open at once, per notebook, measured (not read off the
# code) on 2026-12-01 with `python -m tools connections` (tools/connection_peaks.py): each notebook run
# whole in a fresh kernel with LAB_NAMESPACE=budget_probe, its checks included, while a separate
# connection sampled pg_stat_activity and Redis CLIENT LIST every 0.1 s (second run: 0.05 s) and counted
# the client ports that belonged to the kernel and its child processes (PostgreSQL 15.18, Valkey 9.1.2,
# Python 3.11.7). The figure kept is the larger of the two runs; both runs agreed except notebook 12's
# PostgreSQL (1, then 0: its pool of up to 4 is busy only for a moment, so sampling can miss it).
# Where they come from: 08's ten_queries(10) pool of 10 beside the lesson's pool; 09's cache stampede
# (redis-py opens a connection per concurrent command); 12's crawler workers sharing one Redis client;
# 18's load test against pool size 10. Notebooks that use neither service hold none. Re-measure after
# changing a notebook's pools or clients, and update this table and docs/instructor-guide.md.
PEAKS_MEASURED = (
    "2026-12-01 with python -m tools connections (pg_stat_activity / CLIENT LIST sampled every 0.1 s)"
)
PEAKS: dict[str, dict[str, int]] = {
    # 08: sampling saw 12, but its code holds up to 15 at once (the pool of 10 while the lesson's pool of
    # up to 5 is open), and the simulated class (tools/classroom.py) budgets with this same figure.
    "08": {"postgres": 15, "redis": 0},
    "09": {"postgres": 0, "redis": 20},
    "12": {"postgres": 1, "redis": 8},
    "18": {"postgres": 10, "redis": 10},
}
# A check records its outcome for the progress board (LAB_CLASS) over one short-lived Redis connection.
BOARD_REDIS_PER_LEARNER = 1
DEFAULT_MARGIN = 5


def peak_per_learner(service: str, notebooks: list[str] | None = None, *, board: bool = True) -> int:
    """The largest measured peak of ``service`` ("postgres" or "redis") over ``notebooks`` (default all)."""
    chosen = notebooks if notebooks is not None else list(PEAKS)
    unknown = [nb for nb in chosen if nb not in PEAKS and not nb.isdigit()]
    if unknown:
        raise ValueError(f"notebooks are two-digit numbers like 08: {unknown}")
    peak = max((PEAKS.get(nb.zfill(2), {}).get(service, 0) for nb in chosen), default=0)
    extra = BOARD_REDIS_PER_LEARNER if service == "redis" and board else 0
    return peak + extra


@dataclass(frozen=True)
class Budget:
    """One service's budget for a class; ``str()`` is the verdict line."""

    service: str  # "PostgreSQL" / "Redis"
    limit_name: str  # "max_connections" / "maxclients"
    learners: int
    per_learner: int
    limit: int
    reserved: int
    in_use: int
    margin: int

    @property
    def available(self) -> int:
        return max(0, self.limit - self.reserved - self.in_use - self.margin)

    @property
    def needed(self) -> int:
        return self.learners * self.per_learner

    @property
    def ok(self) -> bool:
        return self.needed <= self.available

    @property
    def learners_that_fit(self) -> int:
        return self.available // self.per_learner if self.per_learner else self.learners

    @property
    def limit_needed(self) -> int:
        """The smallest limit that would fit the class, everything else unchanged."""
        return self.needed + self.reserved + self.in_use + self.margin

    def __str__(self) -> str:
        reserve = f"{self.reserved} reserved − " if self.limit_name == "max_connections" else ""
        sums = (
            f"{self.learners} learners × {self.per_learner} = {self.needed} connections; "
            f"{self.limit_name} {self.limit} − {reserve}{self.in_use} in use − margin {self.margin} "
            f"leaves {self.available}"
        )
        if self.ok:
            return f"✓ {self.service}: OK, {sums}"
        fix = f"raise {self.limit_name} to at least {self.limit_needed}"
        if self.limit_name == "max_connections":
            fix += (
                " (ALTER SYSTEM SET max_connections = …; then restart PostgreSQL), or put PgBouncer in"
                " transaction mode in front (asyncpg then needs statement_cache_size=0), or split the class"
            )
        else:
            fix += " (CONFIG SET maxclients …, and check the open-files limit), or split the class"
        return f"✗ {self.service}: too small, {sums}; {self.learners_that_fit} learners fit\n    fix: {fix}"


def budget(
    service: str,
    limit_name: str,
    *,
    learners: int,
    per_learner: int,
    limit: int,
    reserved: int = 0,
    in_use: int = 0,
    margin: int = DEFAULT_MARGIN,
) -> Budget:
    """learners × per_learner ≤ limit − reserved − in_use − margin, as a :class:`Budget`."""
    if isinstance(learners, bool) or not isinstance(learners, int) or learners <= 0:
        raise ValueError(f"the number of learners must be a whole number of at least 1, got {learners!r}")
    for name, value in {
        "per_learner": per_learner,
        "limit": limit,
        "reserved": reserved,
        "margin": margin,
    }.items():
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")
    return Budget(service, limit_name, learners, per_learner, limit, reserved, max(0, in_use), margin)


async def postgres_budget(
    learners: int, notebooks: list[str] | None = None, margin: int = DEFAULT_MARGIN
) -> Budget:
    import asyncpg

    from helpers import services

    conn = await asyncpg.connect(services.postgres_url(), timeout=5)
    try:
        row = await conn.fetchrow(
            "SELECT current_setting('max_connections')::int AS max_connections,"
            " current_setting('superuser_reserved_connections')::int AS superuser_reserved,"
            " coalesce(current_setting('reserved_connections', true), '0')::int AS reserved,"
            " (SELECT count(*) FROM pg_stat_activity"
            "   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())::int AS in_use"
        )
    finally:
        await conn.close()
    return budget(
        "PostgreSQL",
        "max_connections",
        learners=learners,
        per_learner=peak_per_learner("postgres", notebooks),
        limit=row["max_connections"],
        reserved=row["superuser_reserved"] + row["reserved"],
        in_use=row["in_use"],
        margin=margin,
    )


async def redis_budget(
    learners: int, notebooks: list[str] | None = None, margin: int = DEFAULT_MARGIN
) -> Budget:
    import redis.asyncio as redis

    from helpers import services

    async with redis.from_url(services.redis_url(), socket_connect_timeout=5, socket_timeout=5) as client:
        info = await client.info("clients")
        if "maxclients" in info:
            limit = int(info["maxclients"])
        else:  # older servers: only CONFIG GET (which a managed Redis may refuse)
            config: Any = await client.config_get("maxclients")
            limit = int(config["maxclients"])
        in_use = int(info["connected_clients"]) - 1  # not this check's own connection
    return budget(
        "Redis",
        "maxclients",
        learners=learners,
        per_learner=peak_per_learner("redis", notebooks),
        limit=limit,
        in_use=in_use,
        margin=margin,
    )


async def check(learners: int, notebooks: list[str] | None = None, margin: int = DEFAULT_MARGIN) -> list[str]:
    """One verdict line per service; a line starting ✗ means the class does not fit (or no answer)."""
    budget(
        "PostgreSQL", "max_connections", learners=learners, per_learner=0, limit=0, margin=margin
    )  # validates the input before any connection
    lines = []
    for label, measure in (("PostgreSQL", postgres_budget), ("Redis", redis_budget)):
        try:
            lines.append(str(await measure(learners, notebooks, margin)))
        except Exception as exc:  # noqa: BLE001 - a service that does not answer is a verdict too
            text = str(exc).strip().splitlines()
            lines.append(f"✗ {label}: no answer ({type(exc).__name__}: {text[0] if text else ''})")
    return lines


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers class",
        description="Will one PostgreSQL and Redis carry a class? (docs/instructor-guide.md)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("check", help="budget the connections of a class against the servers")
    cmd.add_argument("--learners", type=_positive, required=True, help="how many learners at once")
    cmd.add_argument("--notebooks", help="only these notebooks, e.g. 08,09 (default: all that use a service)")
    cmd.add_argument("--margin", type=int, default=DEFAULT_MARGIN, help="connections kept free (default 5)")
    args = parser.parse_args(argv)
    notebooks = [nb.strip().zfill(2) for nb in args.notebooks.split(",")] if args.notebooks else None
    try:
        lines = asyncio.run(check(args.learners, notebooks, args.margin))
    except ValueError as exc:
        print(f"python -m helpers class check: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    print(f"(per-learner peaks measured {PEAKS_MEASURED}; see docs/instructor-guide.md)")
    return 0 if all(line.startswith("✓") for line in lines) else 1
