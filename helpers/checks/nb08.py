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

from helpers.checks import exercise, expect, outcome

# Big enough that COPY's fixed cost is small next to the rows; small enough to load in a blink.
LOAD_ROWS = 20_000
BASELINE_ROWS = 1_000  # the per-row loop is timed on a sample and scaled up, for the ✓ line only
# The verdict counts round trips, not seconds (a busy machine changes the seconds): a loader may write
# to the server at most once per this many rows. COPY needs a handful of writes for 20,000 rows,
# executemany a dozen or so; one INSERT per row needs one write (and one wait) per row.
ROWS_PER_WRITE = 20
ROUND_TRIP_HINT = (
    "one INSERT per row waits for a reply each time (in a loop, with or without a transaction): send "
    "the rows in bulk with `await conn.copy_records_to_table('readings', records=records, "
    "columns=[...])`, which accepts the async stream as it is"
)
# One sensor name holds a quote and one a backslash: SQL text built from the values breaks on them.
SENSORS = ("hall", "kitchen", "o'brien's shed", "attic", "c:\\boiler", "garage", "porch")


def _qualified(ns: Any, table: str) -> str:
    return f'"{ns.schema}".{table}'


def reading(i: int) -> tuple[str, int, float]:
    """Row ``i`` of the stream: (sensor, seq, value). Values are multiples of 1/4, exact in float8."""
    return SENSORS[i % len(SENSORS)], i, (i % 1000) * 0.25


async def reading_stream(n: int) -> AsyncIterator[tuple[str, int, float]]:
    """The records arrive one by one, as from a socket or a file being parsed."""
    for i in range(n):
        yield reading(i)


class _TooManyRoundTrips(Exception):
    """Raised inside the connection's write once a loader is past its round-trip budget: stop early."""


class _Writes:
    """Counts the writes a connection makes to its socket: each round trip starts with one.

    asyncpg sends every message through the connection's transport, so this sees prepared
    statements, cursors and COPY alike, however the learner's code reaches them.
    """

    def __init__(self, conn: Any, budget: int) -> None:
        self.count, self.budget = 0, budget
        self._transport = conn._transport  # the socket is what we want to watch

    def _counting(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def write(*args: Any) -> Any:
            self.count += 1
            if self.count > self.budget:  # one round trip per row: no need to wait for 20,000 of them
                raise _TooManyRoundTrips
            return real(*args)

        return write

    def __enter__(self) -> _Writes:
        self._transport.write = self._counting(self._transport.write)
        self._transport.writelines = self._counting(self._transport.writelines)
        return self

    def __exit__(self, *exc: object) -> None:
        del self._transport.write, self._transport.writelines  # the class's methods again


async def _per_row_cost(conn: Any, table: str) -> float:
    """Seconds per row of the loop a bulk loader avoids: one INSERT per row, inside one transaction.

    Only for the ✓ line: the verdict counts round trips, which a busy machine cannot change.
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
    import asyncpg

    table = _qualified(ns, "readings")
    async with pool.acquire() as conn:
        await conn.execute(
            f"DROP TABLE IF EXISTS {table}; "
            f"CREATE TABLE {table} (sensor text NOT NULL, seq int NOT NULL, value float8 NOT NULL)"
        )
        per_row = await _per_row_cost(conn, table)

        started = time.perf_counter()
        with _Writes(conn, budget=LOAD_ROWS // ROWS_PER_WRITE) as writes:
            returned, error = await outcome(load_readings(conn, reading_stream(LOAD_ROWS)))
        took = time.perf_counter() - started
        if isinstance(error, _TooManyRoundTrips) or writes.count > writes.budget:
            conn.terminate()  # stopped in the middle of a message: this connection cannot be reused
            expect(
                False,
                f"your loader made more than {writes.budget} round trips to the server before it was stopped, "
                f"for {LOAD_ROWS} rows: about one per row",
                ROUND_TRIP_HINT,
            )
        if isinstance(error, (asyncpg.PostgresSyntaxError, asyncpg.UndefinedColumnError)):
            expect(
                False,
                f"the server refused your SQL: {type(error).__name__}: {str(error).splitlines()[0]}",
                f"a sensor named {SENSORS[2]!r} broke SQL text built from the values: never format values "
                "into SQL, pass them as $1 parameters or stream the rows with copy_records_to_table",
            )
        if error is not None:
            raise error
        in_transaction = conn.is_in_transaction()
        if in_transaction:
            await conn.execute("ROLLBACK")  # so the pool gets a clean connection back
        expect(
            not in_transaction,
            "the connection was left inside an open transaction",
            "let `async with conn.transaction():` end before you return, or do not open one",
        )
        count, seq_sum, value_sum, sensors = await conn.fetchrow(
            f"SELECT count(*), coalesce(sum(seq), 0), coalesce(sum(value), 0), count(DISTINCT sensor) FROM {table}"
        )
        sample = [reading(i) for i in (0, 1, 2, 4, 4_321, LOAD_ROWS - 1)]
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
        and sensors == len(SENSORS)
        and [tuple(r) for r in stored] == sample,
        "the rows hold different values than the stream gave",
        "store each record's fields unchanged, in the column order sensor, seq, value",
    )
    expect(
        isinstance(returned, int) and not isinstance(returned, bool) and returned == LOAD_ROWS,
        f"returned {returned!r}",
        "return the number of rows loaded as an int (copy_records_to_table answers e.g. 'COPY 20000': "
        "take the number from it)",
    )
    expect(
        writes.count * ROWS_PER_WRITE <= LOAD_ROWS,
        f"your loader made {writes.count} round trips to the server for {LOAD_ROWS} rows",
        ROUND_TRIP_HINT,
    )
    baseline = per_row * LOAD_ROWS
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
        except Exception as exc:  # noqa: BLE001 - which error reached the caller is judged below
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
        bad != (1, 0),
        "the failed order's row stayed in `orders` although its lines were refused",
        "the order's INSERT ran outside the lines' transaction: open one `async with conn.transaction():` "
        "before the first INSERT, around every statement of the order",
    )
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
