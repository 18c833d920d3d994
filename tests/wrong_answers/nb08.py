"""Wrong answers for notebook 08 · PostgreSQL with asyncpg."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

from helpers.checks import nb08

from . import Lab, Wrong

INSERT = "INSERT INTO readings (sensor, seq, value) VALUES ($1, $2, $3)"
ORDER = "INSERT INTO orders (id, customer) VALUES ($1, $2)"
LINE = "INSERT INTO order_lines (order_id, product, quantity) VALUES ($1, $2, $3)"

# ------------------------------------------------------------------ load_readings


async def insert_per_row_in_a_transaction(conn: Any, records: AsyncIterable[tuple[str, int, float]]) -> int:
    """The notebook's `load_one_by_one`: one INSERT per row, each waiting for its reply."""
    count = 0
    async with conn.transaction():
        async for record in records:
            await conn.execute(INSERT, *record)
            count += 1
    return count


async def insert_per_row_autocommit(conn: Any, records: AsyncIterable[tuple[str, int, float]]) -> int:
    """The tutorials' `batch_insert`: one INSERT per row, no transaction, so also a commit per row."""
    count = 0
    async for sensor, seq, value in records:
        await conn.execute(INSERT, sensor, seq, value)
        count += 1
    return count


async def executemany_per_row(conn: Any, records: AsyncIterable[tuple[str, int, float]]) -> int:
    """Uses executemany, but calls it once per record as the records arrive: still a round trip each."""
    count = 0
    async for record in records:
        await conn.executemany(INSERT, [record])
        count += 1
    return count


async def values_formatted_into_sql(conn: Any, records: AsyncIterable[tuple[str, int, float]]) -> int:
    """One big INSERT built with an f-string: fast, but a value with a quote rewrites the SQL."""
    rows = [record async for record in records]
    values = ", ".join(f"('{sensor}', {seq}, {value})" for sensor, seq, value in rows)
    await conn.execute(f"INSERT INTO readings (sensor, seq, value) VALUES {values}")
    return len(rows)


async def returns_copy_status(conn: Any, records: AsyncIterable[tuple[str, int, float]]) -> Any:
    """COPY is right, but it returns the server's status line "COPY 20000" instead of the count."""
    return await conn.copy_records_to_table("readings", records=records, columns=["sensor", "seq", "value"])


async def transaction_never_committed(conn: Any, records: AsyncIterable[tuple[str, int, float]]) -> int:
    """Starts a transaction by hand around the COPY and forgets to commit it."""
    transaction = conn.transaction()
    await transaction.start()
    status = await conn.copy_records_to_table("readings", records=records, columns=["sensor", "seq", "value"])
    return int(status.split()[-1])


# ------------------------------------------------------------------ save_order


async def without_a_transaction(
    conn: Any, order_id: int, customer: str, lines: list[tuple[str, int]]
) -> None:
    """The notebook's `transfer` mistake: every statement commits on its own, half an order stays."""
    await conn.execute(ORDER, order_id, customer)
    for product, quantity in lines:
        await conn.execute(LINE, order_id, product, quantity)


async def swallows_the_error(conn: Any, order_id: int, customer: str, lines: list[tuple[str, int]]) -> None:
    """Rolls back correctly, but catches the error: the caller believes the order was saved."""
    try:
        async with conn.transaction():
            await conn.execute(ORDER, order_id, customer)
            await conn.executemany(LINE, [(order_id, product, quantity) for product, quantity in lines])
    except Exception as exc:  # noqa: BLE001 - the mistake
        print("could not save the order:", exc)


async def begin_commit_by_hand(conn: Any, order_id: int, customer: str, lines: list[tuple[str, int]]) -> None:
    """BEGIN and COMMIT by hand, no ROLLBACK: an error leaves the connection in a failed transaction."""
    await conn.execute("BEGIN")
    await conn.execute(ORDER, order_id, customer)
    await conn.executemany(LINE, [(order_id, product, quantity) for product, quantity in lines])
    await conn.execute("COMMIT")


async def transaction_around_the_lines_only(
    conn: Any, order_id: int, customer: str, lines: list[tuple[str, int]]
) -> None:
    """A transaction, but only around the lines: the order row is already committed when a line fails."""
    await conn.execute(ORDER, order_id, customer)
    async with conn.transaction():
        for product, quantity in lines:
            await conn.execute(LINE, order_id, product, quantity)


async def wraps_the_error(conn: Any, order_id: int, customer: str, lines: list[tuple[str, int]]) -> None:
    """Rolls back, then raises an error of its own: the caller cannot tell what the database refused."""
    try:
        async with conn.transaction():
            await conn.execute(ORDER, order_id, customer)
            await conn.executemany(LINE, [(order_id, product, quantity) for product, quantity in lines])
    except Exception:  # noqa: BLE001 - the mistake
        raise RuntimeError(f"order {order_id} failed") from None


WRONG = [
    Wrong(
        "load_readings",
        "one INSERT per row in a transaction",
        insert_per_row_in_a_transaction,
        r"one per row",
    ),
    Wrong("load_readings", "one INSERT per row, autocommit", insert_per_row_autocommit, r"one per row"),
    Wrong("load_readings", "executemany once per row", executemany_per_row, r"round trips .* one per row"),
    Wrong(
        "load_readings",
        "values formatted into the SQL text",
        values_formatted_into_sql,
        r"never format values",
    ),
    Wrong(
        "load_readings",
        "returns the COPY status line",
        returns_copy_status,
        r"(?s)returned .COPY 20000.*as an int",
    ),
    Wrong("load_readings", "transaction left open", transaction_never_committed, r"open transaction"),
    Wrong("save_order", "no transaction", without_a_transaction, r"every INSERT inside one .*transaction"),
    Wrong(
        "save_order", "swallows the database error", swallows_the_error, r"(?s)raised nothing.*do not catch"
    ),
    Wrong("save_order", "BEGIN/COMMIT by hand, no rollback", begin_commit_by_hand, r"open transaction"),
    Wrong(
        "save_order",
        "transaction around the lines only",
        transaction_around_the_lines_only,
        r"(?s)order.s row stayed.*outside the lines. transaction",
    ),
    Wrong("save_order", "raises an error of its own", wraps_the_error, r"(?s)raised RuntimeError.*propagate"),
]


async def _pool(lab: Lab) -> Any:
    """Like the notebook's pool: plain table names mean the namespace's schema."""
    return await lab.pool(server_settings={"search_path": lab.ns.schema})


async def judge_load_readings(answer: Any, lab: Lab) -> None:
    await nb08.check_load_readings(answer, await _pool(lab), lab.ns)


async def judge_save_order(answer: Any, lab: Lab) -> None:
    await nb08.check_save_order(answer, await _pool(lab), lab.ns)


CHECKS = {"load_readings": judge_load_readings, "save_order": judge_save_order}
