"""Checks for notebook 08 · PostgreSQL with asyncpg.

Each check builds its own tables in the notebook's schema (``ns.schema``), drops what it made before
it starts, and hands the learner's function a connection from the notebook's pool, whose
``search_path`` is that schema, so the learner writes plain table names::

    await nb08.check_load_readings(load_readings, pool, ns)
    await nb08.check_save_order(save_order, pool, ns)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from helpers.checks import exercise, expect

# Big enough that COPY's fixed cost is small next to the rows; small enough to load in a blink.
LOAD_ROWS = 20_000
BASELINE_ROWS = 1_000  # the per-row loop is timed on a sample and scaled up
SPEEDUP = 10


def _qualified(ns: Any, table: str) -> str:
    return f'"{ns.schema}".{table}'


def reading(i: int) -> tuple[str, int, float]:
    """Row ``i`` of the stream: (sensor, seq, value). Values are multiples of 1/4, exact in float8."""
    return f"sensor-{i % 7}", i, (i % 1000) * 0.25


async def reading_stream(n: int) -> AsyncIterator[tuple[str, int, float]]:
    """The records arrive one by one, as from a socket or a file being parsed."""
    for i in range(n):
        yield reading(i)


async def _per_row_cost(conn: Any, table: str) -> float:
    """Seconds per row of the loop a bulk loader must beat: one INSERT per row, inside one transaction.

    The statement is prepared first and the best of two samples counts, so a busy moment makes the
    baseline look cheaper, never dearer: the 10× demanded of the learner is at least 10×.
    """
    insert = f"INSERT INTO {table} (sensor, seq, value) VALUES ($1, $2, $3)"
    await conn.execute(insert, *reading(0))
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        async with conn.transaction():
            for i in range(BASELINE_ROWS):
                await conn.execute(insert, *reading(i))
        best = min(best, (time.perf_counter() - started) / BASELINE_ROWS)
    await conn.execute(f"TRUNCATE {table}")
    return best


@exercise("load_readings", timeout=90)
async def check_load_readings(load_readings: Callable[..., Awaitable[Any]], pool: Any, ns: Any) -> str:
    table = _qualified(ns, "readings")
    async with pool.acquire() as conn:
        await conn.execute(
            f"DROP TABLE IF EXISTS {table}; "
            f"CREATE TABLE {table} (sensor text NOT NULL, seq int NOT NULL, value float8 NOT NULL)"
        )
        per_row = await _per_row_cost(conn, table)

        started = time.perf_counter()
        returned = await load_readings(conn, reading_stream(LOAD_ROWS))
        took = time.perf_counter() - started
        expect(
            not conn.is_in_transaction(),
            "the connection was left inside an open transaction",
            "let `async with conn.transaction():` end before you return, or do not open one",
        )
        count, seq_sum, value_sum, sensors = await conn.fetchrow(
            f"SELECT count(*), coalesce(sum(seq), 0), coalesce(sum(value), 0), count(DISTINCT sensor) FROM {table}"
        )
        sample = [reading(i) for i in (0, 1, 4_321, LOAD_ROWS - 1)]
        stored = await conn.fetch(
            f"SELECT sensor, seq, value FROM {table} WHERE seq = any($1::int[]) ORDER BY seq",
            [seq for _, seq, _ in sample],
        )

    expect(
        count == LOAD_ROWS,
        f"the table holds {count} rows, expected {LOAD_ROWS}",
        "load every record of the stream into `readings` (columns sensor, seq, value), each exactly once",
    )
    expected_values = sum(reading(i)[2] for i in range(LOAD_ROWS))
    expect(
        seq_sum == LOAD_ROWS * (LOAD_ROWS - 1) // 2
        and value_sum == expected_values
        and sensors == 7
        and [tuple(r) for r in stored] == sample,
        "the rows hold different values than the stream gave",
        "store each record's fields unchanged, in the column order sensor, seq, value",
    )
    expect(returned == LOAD_ROWS, f"returned {returned!r}", "return the number of rows loaded (an int)")
    baseline = per_row * LOAD_ROWS
    expect(
        took * SPEEDUP <= baseline,
        f"loading took {took:.2f} s; one INSERT per row would take about {baseline:.2f} s here, "
        f"so yours was {baseline / took:.1f}× as fast (needed: at least {SPEEDUP}×)",
        "stream the rows with COPY: `await conn.copy_records_to_table('readings', records=records, "
        "columns=[...])` accepts the async stream as it is (executemany is faster than a loop, but not "
        "reliably 10×)",
    )
    return f"{LOAD_ROWS} rows stored intact, {baseline / took:.0f}× faster than one INSERT per row"


GOOD_ORDER = (101, "ada", [("tea", 2), ("scones", 4)])
BAD_ORDER = (102, "bob", [("coffee", 1), ("cake", 2), ("jam", 0)])  # quantity 0 breaks the CHECK


@exercise("save_order", timeout=30)
async def check_save_order(save_order: Callable[..., Awaitable[Any]], pool: Any, ns: Any) -> str:
    import asyncpg

    orders, lines = _qualified(ns, "orders"), _qualified(ns, "order_lines")
    await pool.execute(
        f"DROP TABLE IF EXISTS {lines}, {orders}; "
        f"CREATE TABLE {orders} (id int PRIMARY KEY, customer text NOT NULL); "
        f"CREATE TABLE {lines} (order_id int NOT NULL REFERENCES {orders} (id), product text NOT NULL, "
        f"quantity int NOT NULL CHECK (quantity > 0))"
    )

    async with pool.acquire() as conn:
        await save_order(conn, *GOOD_ORDER)
        raised: BaseException | None = None
        try:
            await save_order(conn, *BAD_ORDER)
        except asyncpg.PostgresError as exc:
            raised = exc
        in_transaction = conn.is_in_transaction()

    async def rows_of(order_id: int) -> tuple[int, int]:
        return (
            await pool.fetchval(f"SELECT count(*) FROM {orders} WHERE id = $1", order_id),
            await pool.fetchval(f"SELECT count(*) FROM {lines} WHERE order_id = $1", order_id),
        )

    expect(
        not in_transaction,
        "the connection was left inside an open transaction",
        "use `async with conn.transaction():` so the transaction ends however the block exits",
    )
    good = await rows_of(GOOD_ORDER[0])
    expect(
        good == (1, 2),
        f"the good order left {good[0]} order row(s) and {good[1]} line(s), expected 1 and 2",
        "insert the order row, then one order_lines row per (product, quantity)",
    )
    bad = await rows_of(BAD_ORDER[0])
    expect(
        bad == (0, 0),
        f"the failed order left {bad[0]} order row(s) and {bad[1]} line(s) behind",
        "put every INSERT inside one `async with conn.transaction():` block, so an error rolls them all back",
    )
    expect(
        isinstance(raised, asyncpg.CheckViolationError),
        "the bad order raised nothing" if raised is None else f"the bad order raised {type(raised).__name__}",
        "let the database error propagate (do not catch it): the caller must learn the order was not saved",
    )
    return (
        "a good order is saved whole; a bad line rolls back the whole order and the error reaches the caller"
    )
