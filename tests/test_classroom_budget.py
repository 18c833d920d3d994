"""`python -m helpers class check --learners N`: the connection budget of a class, against real servers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from support import free_port, services_running

from helpers import classroom, services

needs_services = pytest.mark.skipif(not services_running(), reason="needs `python -m helpers services up`")


def _class_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpers", "class", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def test_the_formula_subtracts_reserve_in_use_and_margin() -> None:
    b = classroom.budget(
        "PostgreSQL",
        "max_connections",
        learners=30,
        per_learner=12,
        limit=100,
        reserved=3,
        in_use=2,
        margin=5,
    )
    assert (b.available, b.needed, b.ok) == (90, 360, False)
    assert b.learners_that_fit == 7  # 7 × 12 = 84 ≤ 90 < 96
    assert b.limit_needed == 360 + 3 + 2 + 5
    text = str(b)
    assert text.startswith("✗ PostgreSQL: too small") and "7 learners fit" in text
    assert "raise max_connections to at least 370" in text and "PgBouncer" in text
    assert "statement_cache_size=0" in text


def test_a_class_that_fits_exactly_is_ok() -> None:
    b = classroom.budget("Redis", "maxclients", learners=5, per_learner=2, limit=15, margin=5)
    assert b.ok and b.available == 10 and str(b).startswith("✓ Redis: OK")


def test_per_learner_peak_is_the_largest_notebook_and_the_board_adds_one_redis_connection() -> None:
    pg = max(peaks["postgres"] for peaks in classroom.PEAKS.values())
    assert classroom.peak_per_learner("postgres") == pg > 0
    assert classroom.peak_per_learner("redis", ["08"]) == classroom.PEAKS["08"]["redis"] + 1
    assert classroom.peak_per_learner("redis", ["08"], board=False) == classroom.PEAKS["08"]["redis"]
    assert classroom.peak_per_learner("postgres", ["03"]) == 0  # no service: no connection
    assert set(classroom.PEAKS) == {"08", "09", "12", "18"}


@pytest.mark.parametrize("learners", [0, -3, 2.5, True])
def test_learners_must_be_a_positive_whole_number(learners: object) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        classroom.budget("PostgreSQL", "max_connections", learners=learners, per_learner=1, limit=100)  # type: ignore[arg-type]


@pytest.mark.parametrize("given", ["0", "-1", "many"])
def test_the_command_rejects_bad_learner_counts_with_one_clear_line(given: str) -> None:
    done = _class_check("--learners", given)
    assert done.returncode == 2
    assert "--learners: must be a whole number of at least 1" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.services
@needs_services
def test_one_learner_fits_the_running_servers() -> None:
    done = _class_check("--learners", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("✓ PostgreSQL: OK, 1 learners × ")
    assert lines[1].startswith("✓ Redis: OK, 1 learners × ")
    assert "max_connections" in lines[0] and "maxclients" in lines[1]


@pytest.mark.services
@needs_services
def test_ten_thousand_learners_do_not_fit_and_the_verdict_says_what_to_raise() -> None:
    done = _class_check("--learners", "10000")
    assert done.returncode == 1, done.stdout + done.stderr
    pg = next(line for line in done.stdout.splitlines() if line.startswith("✗ PostgreSQL"))
    assert "too small" in pg and "max_connections" in pg and "learners fit" in pg
    assert "fix: raise max_connections to at least" in done.stdout
    assert "✗ Redis: too small" in done.stdout  # 10000 × (peak + 1) > maxclients 10000


@pytest.mark.services
@needs_services
def test_the_budget_reads_the_real_settings() -> None:
    import asyncpg

    async def settings() -> tuple[int, int]:
        conn = await asyncpg.connect(services.postgres_url())
        try:
            return (
                int(await conn.fetchval("SHOW max_connections")),
                int(await conn.fetchval("SHOW superuser_reserved_connections")),
            )
        finally:
            await conn.close()

    limit, reserved = asyncio.run(settings())
    b = asyncio.run(classroom.postgres_budget(3))
    assert (b.limit, b.learners, b.margin) == (limit, 3, classroom.DEFAULT_MARGIN)
    assert b.reserved >= reserved and b.in_use >= 0


def test_an_unreachable_server_is_a_verdict_not_a_traceback(unused_port: int) -> None:
    env = dict(os.environ, DATABASE_URL=f"postgresql://lab:lab@127.0.0.1:{unused_port}/lab")
    done = subprocess.run(
        [sys.executable, "-m", "helpers", "class", "check", "--learners", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 1
    assert "✗ PostgreSQL: no answer" in done.stdout and "Traceback" not in done.stderr


@pytest.fixture
def unused_port() -> int:
    return free_port()
