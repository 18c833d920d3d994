"""Checks for notebook 18 · Capstone II: a small async service.

    await nb18.check_place_cart(place_cart, make_app, BASE)    # BASE = Settings(PG_URL, REDIS_URL, ns)
    await nb18.check_item_page(item_page, make_app, BASE)

Each check re-creates the catalogue in ``settings.ns`` (its schema and key prefix, nothing else),
starts the notebook's service with the learner's handler as one more route
(``make_app(settings, web.post("/carts", place_cart))``) in a thread of its own with
:func:`helpers.serving.app_in_thread`, sends real requests, and judges by what the database, Redis
and the service's own statistics say. The statistics and the pool are found in the app by their
types (a ``Counter`` and an ``asyncpg.Pool``), so the checks need only the notebook's ``make_app``
and ``Settings`` (a dataclass with ``pg_url``, ``redis_url``, ``ns``, ``pool_size``, ``cache_ttl``,
``request_timeout``, ``summary_timeout``, ``item_delay``, ``reviews_delay``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections import Counter
from typing import Any

import aiohttp
from aiohttp import web

from helpers import nb18_support, serving
from helpers.checks import exercise, expect

__all__ = ["check_item_page", "check_place_cart"]

CART_STOCK = nb18_support.STOCK  # 5 of every item
CART_RUSH = 8  # carts sent at once for the same two items
HOLD = 0.3  # seconds the check keeps the two items' rows locked while the carts arrive

PAGE_QUERY = 0.3  # seconds per query in the normal case: one after the other would take twice that
PAGE_BUDGET = 0.4  # summary_timeout in the slow cases
SLOW = 3.0  # seconds of a slow dependency
LATE = 1.5  # an answer later than this ignored the budget (budget 0.4 s; the request timeout is 2 s)
REQUEST_TIMEOUT = 2.0


# ------------------------------------------------------------------ shared pieces


async def _fresh(settings: Any) -> None:
    """The seeded catalogue in the settings' schema, and no keys under its prefix."""
    import asyncpg
    import redis.asyncio

    async with asyncpg.create_pool(settings.pg_url, min_size=1, max_size=1) as pool:
        await nb18_support.create_catalogue(pool, settings.ns)
    async with redis.asyncio.from_url(settings.redis_url) as client:
        await nb18_support.reset_keys(client, settings.ns)


def _serve(make_app: Any, settings: Any, route: web.RouteDef) -> Any:
    return serving.app_in_thread(functools.partial(make_app, settings, route))


def _of_type(app: web.Application, kind: type) -> Any:
    return next(value for value in app.values() if isinstance(value, kind))


async def _stats(served: Any) -> Counter[str]:
    """The service's statistics and its pool's counts, read on the server's loop."""
    import asyncpg

    async def snapshot() -> Counter[str]:
        pool = _of_type(served.app, asyncpg.Pool)
        stats = Counter(_of_type(served.app, Counter))
        stats["pool_size"], stats["pool_idle"] = pool.get_size(), pool.get_idle_size()
        return stats

    return await served.thread.call(snapshot())


async def _db(served: Any, sql: str, *args: Any) -> Any:
    """One value from the service's own database, through its pool on the server's loop."""
    import asyncpg

    pool = _of_type(served.app, asyncpg.Pool)
    return await served.thread.call(pool.fetchval(sql, *args))


async def _send(session: aiohttp.ClientSession, method: str, path: str, **options: Any) -> tuple[int, Any]:
    async with session.request(method, path, **options) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


def _no_bug(what: str, status: int, body: Any) -> None:
    """A 500 is the learner's exception: the stub's NotImplementedError reads "not written yet"."""
    error = body.get("error", "") if isinstance(body, dict) else str(body)
    if status == 500 and "NotImplementedError" in error:
        raise NotImplementedError
    expect(
        status != 500,
        f"{what} answered 500: {error}",
        "your handler raised an exception; call it in a cell of its own with the same request to see the traceback",
    )


async def _settled(served: Any, what: str) -> None:
    """Nothing of the request still runs on the server, and every connection is back in the pool."""
    left = await nb18_support.tasks_on(served, settle=1.0)
    stats = await _stats(served)
    expect(
        not left,
        f"after {what} answered, still running on the server: {left}",
        "cancel what is late, and await it: a TaskGroup (or asyncio.timeout around the await) does both; "
        "asyncio.wait(..., timeout=...) neither cancels nor waits, so the task runs on after the answer",
    )
    expect(
        stats["pool_idle"] == stats["pool_size"],
        f"after {what} answered, {stats['pool_size'] - stats['pool_idle']} of {stats['pool_size']} pooled "
        "connections were still lent out",
        "borrow connections with `async with connection(app) as conn:` so they go back on every path",
    )


# ------------------------------------------------------------------ exercise 1: place_cart


async def _cart(session: aiohttp.ClientSession, client: str, *lines: tuple[int, int]) -> tuple[int, Any]:
    cart = {"client": client, "lines": [{"item": item, "quantity": quantity} for item, quantity in lines]}
    return await _send(session, "POST", "/carts", json=cart)


async def _stock(served: Any, item_id: int) -> int:
    return int(await _db(served, "SELECT stock FROM items WHERE id = $1", item_id))


async def _orders(served: Any, sql_filter: str, arg: Any) -> int:
    return int(await _db(served, f"SELECT count(*) FROM orders WHERE {sql_filter}", arg))


@exercise("place_cart", timeout=60)
async def check_place_cart(place_cart: Any, make_app: Any, settings: Any) -> str:
    settings = dataclasses.replace(settings, pool_size=4, cache_ttl=60, request_timeout=10.0)
    await _fresh(settings)
    with _serve(make_app, settings, web.post("/carts", place_cart)) as served:
        async with aiohttp.ClientSession(served.url) as session:
            for item in (1, 2):
                await _send(session, "GET", f"/items/{item}")  # now both are cached
            status, body = await _cart(session, "ada", (1, 2), (2, 1))
            _no_bug("POST /carts", status, body)
            expect(
                status == 201 and isinstance(body, dict) and len(body.get("orders", ())) == 2,
                f"a cart of two lines that the stock can serve got {status} {body}",
                'answer 201 with {"orders": [the id of each new orders row]} (RETURNING id)',
            )
            stock = [await _stock(served, item) for item in (1, 2)]
            recorded = await _orders(served, "client = $1", "ada")
            expect(
                stock == [CART_STOCK - 2, CART_STOCK - 1] and recorded == 2,
                f"after a cart of 2 × item 1 and 1 × item 2 the database holds stock {stock} and {recorded} "
                "orders rows for the client",
                "take each line's quantity from items.stock and insert one orders row per line",
            )
            seen = [(await _send(session, "GET", f"/items/{item}"))[1]["stock"] for item in (1, 2)]
            expect(
                seen == stock,
                f"GET /items/1 and /items/2 still show stock {seen} after the cart; the database has {stock}",
                "the cache still holds the old items: after the transaction has committed, delete the cached "
                "copy of every item in the cart (await app[REDIS].delete(item_key(app[SETTINGS], item_id)))",
            )
            await _all_or_nothing(session, served)
            await _rush(session, served, settings)
        await _settled(served, "the carts")
    return (
        "lines taken and recorded together, a refused cart changes nothing, the cache is refreshed, and "
        f"{CART_RUSH} concurrent carts for {CART_STOCK} in stock sold exactly {CART_STOCK}"
    )


async def _all_or_nothing(session: aiohttp.ClientSession, served: Any) -> None:
    status, body = await _cart(session, "bob", (3, 1), (4, CART_STOCK + 4))
    _no_bug("POST /carts", status, body)
    expect(
        status == 409,
        f"a cart whose second line asks for {CART_STOCK + 4} of an item with {CART_STOCK} in stock got {status} {body}",
        "when a line cannot be served, raise web.HTTPConflict (409)",
    )
    left, recorded = await _stock(served, 3), await _orders(served, "client = $1", "bob")
    expect(
        left == CART_STOCK and recorded == 0,
        f"the refused cart still changed the database: item 3's stock is {left} (was {CART_STOCK}), "
        f"{recorded} orders rows recorded",
        "all or nothing needs one transaction for the whole cart: `async with connection(app) as conn, "
        "conn.transaction():` around every line, and raise the 409 inside it, so the lines already taken "
        "are rolled back",
    )


async def _rush(session: aiohttp.ClientSession, served: Any, settings: Any) -> None:
    """Eight carts for items 5 and 6 at once, while the check holds both rows locked for HOLD seconds."""
    import asyncpg

    lines = ((5, 1), (6, 1))
    conn = await asyncpg.connect(settings.pg_url, server_settings={"search_path": settings.ns.schema})
    try:
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM items WHERE id = ANY($1::int[]) FOR UPDATE", [5, 6])
            carts = [asyncio.create_task(_cart(session, f"rush {k}", *lines)) for k in range(CART_RUSH)]
            give_up = time.perf_counter() + 5
            while time.perf_counter() < give_up and not all(c.done() for c in carts):
                if (await _stats(served))["in_flight"] >= CART_RUSH:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(HOLD)  # every cart has read what it reads before any can write
    finally:
        await conn.close()
    answers = await asyncio.gather(*carts)
    for status, body in answers:
        _no_bug("POST /carts", status, body)
    statuses = Counter(status for status, _ in answers)
    stock, recorded = await _stock(served, 5), await _orders(served, "item_id = $1", 5)
    expect(
        statuses[201] <= CART_STOCK and recorded <= CART_STOCK and stock + recorded == CART_STOCK,
        f"{CART_RUSH} carts at once for {CART_STOCK} in stock: {statuses[201]} accepted, {recorded} orders "
        f"recorded for item 5, and its stock says {stock} left: the books do not balance",
        "check-then-act: a SELECT of the stock, a decision in Python and an UPDATE to the value you computed "
        "let concurrent carts all see the same stock. Check and take it in one statement: UPDATE items SET "
        "stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING stock (or lock the row first with SELECT "
        "... FOR UPDATE)",
    )
    expect(
        statuses == Counter({201: CART_STOCK, 409: CART_RUSH - CART_STOCK}) and stock == 0,
        f"{CART_RUSH} carts at once for {CART_STOCK} in stock got {dict(statuses)}; stock left {stock}",
        f"exactly {CART_STOCK} carts fit: accept each cart the stock can serve, refuse the rest with 409",
    )


# ------------------------------------------------------------------ exercise 2: item_page


@exercise("item_page", timeout=60)
async def check_item_page(item_page: Any, make_app: Any, settings: Any) -> str:
    base = dataclasses.replace(
        settings, pool_size=4, cache_ttl=None, request_timeout=REQUEST_TIMEOUT, summary_timeout=PAGE_BUDGET
    )
    await _fresh(base)
    route = web.get("/items/{id}/page", item_page)

    # 1. Both parts in time: both in the answer, fetched at the same time.
    normal = dataclasses.replace(
        base, item_delay=PAGE_QUERY, reviews_delay=PAGE_QUERY, summary_timeout=5 * PAGE_QUERY
    )
    with _serve(make_app, normal, route) as served:
        async with aiohttp.ClientSession(served.url) as session:
            started = time.perf_counter()
            status, body = await _send(session, "GET", "/items/5/page")
            took = time.perf_counter() - started
            _no_bug("GET /items/5/page", status, body)
            expected = {"id": 5, "name": "item 5", "price_cents": 105, "stock": CART_STOCK}
            expected["reviews"] = nb18_support.expected_reviews(5)
            expect(
                status == 200 and body == expected,
                f"GET /items/5/page with both parts in time answered {status} {body}",
                f"answer 200 with the item's fields and a 'reviews' field holding query_reviews' answer: {expected}",
            )
            stats = await _stats(served)
            expect(
                stats["pool_peak"] >= 2 or took < 0.7 * 2 * PAGE_QUERY,
                f"two queries of {PAGE_QUERY} s took {took:.2f} s, on at most {stats['pool_peak']} connection at once",
                "run the two queries concurrently: create both tasks in one asyncio.TaskGroup before awaiting "
                "either; awaiting one after the other costs the sum of their times",
            )
            status, body = await _send(session, "GET", "/items/9999/page")
            expect(
                status == 404,
                f"GET /items/9999/page (no such item) answered {status} {body}",
                "load_item raises web.HTTPNotFound, but a TaskGroup wraps it in an ExceptionGroup, which the "
                "middleware answers with 500: unwrap it with `except* web.HTTPException as group: raise "
                "group.exceptions[0] from None`",
            )
        await _settled(served, "GET /items/5/page")

    # 2. Late reviews: the page goes out without them, on time, and the query is cancelled.
    late_reviews = dataclasses.replace(base, reviews_delay=SLOW)
    with _serve(make_app, late_reviews, route) as served:
        async with aiohttp.ClientSession(served.url) as session:
            started = time.perf_counter()
            status, body = await _send(session, "GET", "/items/6/page")
            took = time.perf_counter() - started
        _no_bug("GET /items/6/page", status, body)
        expect(
            status != 504,
            f"with reviews that take {SLOW} s and a budget of {PAGE_BUDGET} s the page answered 504 after {took:.2f} s",
            "the reviews are optional: give them their own asyncio.timeout and answer 'reviews': null when it "
            "expires; one timeout around the whole group turns late reviews into a 504 for the whole page",
        )
        expect(
            status == 200
            and isinstance(body, dict)
            and body.get("id") == 6
            and body.get("reviews", 0) is None,
            f"with late reviews the page answered {status} {body}",
            "answer 200 with the item and 'reviews': null when the reviews miss the budget",
        )
        expect(
            took < LATE,
            f"with reviews that take {SLOW} s and a budget of {PAGE_BUDGET} s the page took {took:.2f} s",
            "stop waiting for the reviews when summary_timeout seconds have passed (asyncio.timeout)",
        )
        await _settled(served, "the page with late reviews")

    # 3. A late item: 504 on time, and nothing left behind.
    late_item = dataclasses.replace(base, item_delay=SLOW)
    with _serve(make_app, late_item, route) as served:
        async with aiohttp.ClientSession(served.url) as session:
            started = time.perf_counter()
            status, body = await _send(session, "GET", "/items/7/page")
            took = time.perf_counter() - started
        _no_bug("GET /items/7/page", status, body)
        expect(
            status == 504 and took < LATE,
            f"with an item query of {SLOW} s and a budget of {PAGE_BUDGET} s the page answered {status} after "
            f"{took:.2f} s",
            "the item is required: when it misses summary_timeout, answer 504 at once (raise "
            "web.HTTPGatewayTimeout, or let a TimeoutError reach the middleware, unwrapped from the "
            "TaskGroup's ExceptionGroup with except*)",
        )
        await _settled(served, "the page with a late item")
    return "both parts fetched at once; late reviews left out on time, a late item a 504 on time, nothing left running"
