"""Notebooks 08 and 09 keep to their own namespace: re-runnable, side by side, and clear when a service is down.

Each notebook resets its own Postgres schema / Redis key prefix at its start. So it must pass when
two learners (different ``LAB_NAMESPACE``) run it at the same moment against the same servers, and
again over what its first run left behind. With the services unreachable, its first service cell must stop with the
one-line ``ServiceUnavailable`` message instead of a traceback.

The notebooks run in real kernels (nbclient, one thread per kernel) under throwaway namespace names,
which are dropped again at the end.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from support import free_port

from helpers import services
from tools.runner import run, unexpected_errors

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {"08": "08_postgres_asyncpg.ipynb", "09": "09_redis.ipynb"}
SERVICE_CALLS = ("services.postgres_url()", "services.redis_url()")


def execute(name: str, env_updates: dict[str, str], cells: int | None = None) -> nbformat.NotebookNode:
    """Run a notebook (or its first ``cells`` cells) in a fresh kernel; errors are kept in the outputs."""
    return run(ROOT / "notebooks" / name, env=env_updates, cells=cells, timeout=300)


def run_all(jobs: list[tuple[str, str]]) -> list[str]:
    """Run (notebook, LAB_NAMESPACE) jobs at the same time; return every problem found, labelled."""

    def one(job: tuple[str, str]) -> list[str]:
        name, learner = job
        started = time.perf_counter()
        problems = unexpected_errors(execute(name, {"LAB_NAMESPACE": learner}))
        took = time.perf_counter() - started
        return [f"{name} as {learner} ({took:.0f} s): {p}" for p in problems]

    with ThreadPoolExecutor(len(jobs)) as pool:
        return [problem for problems in pool.map(one, jobs) for problem in problems]


# --------------------------------------------------------------------------------------------------
# Fixtures: live services, and throwaway learner names that are cleaned up afterwards
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def urls() -> tuple[str, str]:
    try:
        return services.postgres_url(), services.redis_url()
    except services.ServiceUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture
def learners(urls: tuple[str, str]) -> Iterator[list[str]]:
    """Two fresh learner names; their schemas and keys are dropped after the test."""
    tag = secrets.token_hex(3)
    names = [f"test_a_{tag}", f"test_b_{tag}"]
    yield names
    asyncio.run(_forget(urls, names))


async def _forget(urls: tuple[str, str], names: list[str]) -> None:
    import asyncpg
    import redis.asyncio as redis

    conn = await asyncpg.connect(urls[0])
    try:
        for name in names:
            for number in NOTEBOOKS:
                schema = services.Namespace(name, number).schema
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    async with redis.from_url(urls[1]) as r:
        for name in names:
            for number in NOTEBOOKS:
                await services.reset_redis(r, services.Namespace(name, number))


async def _footprints(urls: tuple[str, str], name: str) -> tuple[dict[str, int], bool]:
    """What one learner's runs left behind: 08's account balances, and whether 09's cached report is there."""
    import asyncpg
    import redis.asyncio as redis

    conn = await asyncpg.connect(urls[0])
    try:
        schema = services.Namespace(name, "08").schema
        balances = dict(await conn.fetch(f'SELECT name, balance FROM "{schema}".accounts ORDER BY name'))
    finally:
        await conn.close()
    async with redis.from_url(urls[1]) as r:
        cached = await r.exists(services.Namespace(name, "09").key_prefix + "report:7") == 1
    return balances, cached


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------


@pytest.mark.services
def test_two_learners_at_the_same_moment_then_one_again(urls: tuple[str, str], learners: list[str]) -> None:
    # Four kernels at once: 08 and 09, each for two learners against the same servers.
    problems = run_all([(NOTEBOOKS[number], learner) for number in NOTEBOOKS for learner in learners])
    assert not problems, "\n".join(problems)
    # The first learner runs both again, over what the first run left behind: a notebook is re-runnable.
    problems = run_all([(NOTEBOOKS[number], learners[0]) for number in NOTEBOOKS])
    assert not problems, "\n".join(problems)
    for learner in learners:
        balances, cached = asyncio.run(_footprints(urls, learner))
        # 08 ends with the executemany demo, which reopens the accounts and adds none of its bad batch.
        assert balances == {"ada": 100, "bob": 50}, f"{learner}: 08's accounts ended as {balances}"
        assert cached, f"{learner}: 09's cached report is missing from its own prefix"


@pytest.mark.parametrize("number", sorted(NOTEBOOKS))
def test_first_service_cell_says_in_one_line_that_the_service_is_down(number: str) -> None:
    name = NOTEBOOKS[number]
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    first = next(
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and any(call in cell.source for call in SERVICE_CALLS)
    )
    port = free_port()
    env = {
        "DATABASE_URL": f"postgresql://lab:lab@127.0.0.1:{port}/lab",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "LAB_NAMESPACE": "nobody",
    }
    ran = execute(name, env, cells=first + 1)

    for index, cell in enumerate(ran.cells[:first]):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors or "NBVAL_RAISES_EXCEPTION" in cell.source, (
            f"cell {index + 1} failed before the service cell"
        )
    errors = [o for o in ran.cells[first].outputs if o.output_type == "error"]
    assert errors, f"cell {first + 1} ran without a service"
    error = errors[0]
    assert error.ename == "ServiceUnavailable", f"{error.ename}: {error.evalue}"
    variable = "DATABASE_URL" if "postgres_url" in ran.cells[first].source else "REDIS_URL"
    assert variable in error.evalue and "\n" not in error.evalue
    assert len(error.traceback) == 1 and error.traceback[0].startswith("ServiceUnavailable: "), (
        error.traceback
    )


def test_the_hubs_accept_only_names_that_are_their_own_namespace() -> None:
    """deploy/jupyterhub's username_pattern: every name it admits is unchanged by safe_name (so two
    learners never share a namespace), and the names safe_name would merge are refused."""
    import re

    deploy = Path(__file__).resolve().parents[1] / "deploy" / "jupyterhub"
    patterns = {
        re.search(r'username_pattern = r"([^"]+)"', (deploy / name).read_text()).group(1)  # type: ignore[union-attr]
        for name in ("jupyterhub_config.py", "jupyterhub_config_real.py")
    }
    yaml = pytest.importorskip("yaml")
    values = yaml.safe_load((deploy.parent / "kubernetes" / "values.yaml").read_text())
    patterns.add(values["hub"]["config"]["Authenticator"]["username_pattern"])
    assert len(patterns) == 1, patterns  # the same rule in the three configurations
    admits = re.compile(patterns.pop()).match  # JupyterHub uses re.match
    for name in ("ada", "learner05", "t3b4_02", "bob_smith", "a" * 32):
        assert admits(name) and services.namespaces.safe_name(name) == name, name
    for name in ("ada.l", "ada-l", "ada__l", "ada_", "_ada", "5ada", "Ada", "a" * 33, "zoë", ""):
        assert not admits(name), name
