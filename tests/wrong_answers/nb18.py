"""Wrong answers for notebook 18 · Capstone II: a small async service.

The answers are handlers for the notebook's own service, so they call its pieces (``connection``,
``load_item``, ``query_reviews``, the app's keys ...). Those are taken from the notebook itself: the
cells marked ``# service k/n`` are loaded as a module, as the notebook's pytest section does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from helpers import nb18_support
from helpers.checks import nb18
from helpers.services import postgres_url, redis_url

from . import Lab, Wrong

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "18_capstone_service.ipynb"
svc: Any = nb18_support.load_service(nb18_support.service_source(nb18_support.notebook_cells(NOTEBOOK)))

TAKE = "UPDATE items SET stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING stock"
RECORD = "INSERT INTO orders (client, item_id, quantity) VALUES ($1, $2, $3) RETURNING id"


def _cart(cart: dict) -> tuple[str, list[tuple[int, int]]]:
    return cart["client"], [(int(line["item"]), int(line["quantity"])) for line in cart["lines"]]


async def _forget(app: web.Application, lines: list[tuple[int, int]]) -> None:
    for item_id, _ in lines:
        await app[svc.REDIS].delete(svc.item_key(app[svc.SETTINGS], item_id))


# ------------------------------------------------------------------ place_cart


async def check_then_act(request: web.Request) -> web.Response:
    """The notebook's common mistake: read the stock, decide in Python, write the computed value."""
    app = request.app
    client, lines = _cart(await request.json())
    ids = []
    async with svc.connection(app) as conn, conn.transaction():
        for item_id, quantity in lines:
            stock = await conn.fetchval("SELECT stock FROM items WHERE id = $1", item_id)
            if stock < quantity:
                raise web.HTTPConflict(text="not enough stock")
            await conn.execute("UPDATE items SET stock = $2 WHERE id = $1", item_id, stock - quantity)
            ids.append(await conn.fetchval(RECORD, client, item_id, quantity))
    await _forget(app, lines)
    return web.json_response({"orders": ids}, status=201)


async def no_transaction(request: web.Request) -> web.Response:
    """Each statement commits on its own: a refused second line leaves the first one taken."""
    app = request.app
    client, lines = _cart(await request.json())
    ids = []
    async with svc.connection(app) as conn:
        for item_id, quantity in lines:
            if await conn.fetchval(TAKE, item_id, quantity) is None:
                raise web.HTTPConflict(text="not enough stock")
            ids.append(await conn.fetchval(RECORD, client, item_id, quantity))
    await _forget(app, lines)
    return web.json_response({"orders": ids}, status=201)


async def transaction_per_line(request: web.Request) -> web.Response:
    """A transaction for each line: each line is atomic, the cart is not."""
    app = request.app
    client, lines = _cart(await request.json())
    ids = []
    for item_id, quantity in lines:
        async with svc.connection(app) as conn, conn.transaction():
            if await conn.fetchval(TAKE, item_id, quantity) is None:
                raise web.HTTPConflict(text="not enough stock")
            ids.append(await conn.fetchval(RECORD, client, item_id, quantity))
    await _forget(app, lines)
    return web.json_response({"orders": ids}, status=201)


async def stale_cache(request: web.Request) -> web.Response:
    """Right in the database, but the cached items keep their old stock."""
    app = request.app
    client, lines = _cart(await request.json())
    ids = []
    async with svc.connection(app) as conn, conn.transaction():
        for item_id, quantity in sorted(lines):
            if await conn.fetchval(TAKE, item_id, quantity) is None:
                raise web.HTTPConflict(text="not enough stock")
            ids.append(await conn.fetchval(RECORD, client, item_id, quantity))
    return web.json_response({"orders": ids}, status=201)


# ------------------------------------------------------------------ item_page


async def wait_without_cancel(request: web.Request) -> web.Response:
    """The notebook's common mistake: asyncio.wait with a timeout, and the late task left running."""
    app, item_id = request.app, svc.item_id_of(request)
    item = asyncio.create_task(svc.load_item(app, item_id))
    reviews = asyncio.create_task(svc.query_reviews(app, item_id))
    await asyncio.wait({item, reviews}, timeout=app[svc.SETTINGS].summary_timeout)
    if not item.done():
        raise web.HTTPGatewayTimeout(text="too slow")
    answer = {**item.result(), "reviews": reviews.result() if reviews.done() else None}
    return web.json_response(answer)


async def one_after_the_other(request: web.Request) -> web.Response:
    """Each part with its own timeout, but awaited in turn: the page costs the sum of both."""
    app, item_id = request.app, svc.item_id_of(request)
    budget = app[svc.SETTINGS].summary_timeout
    async with asyncio.timeout(budget):
        item = await svc.load_item(app, item_id)
    try:
        async with asyncio.timeout(budget):
            reviews = await svc.query_reviews(app, item_id)
    except TimeoutError:
        reviews = None
    return web.json_response({**item, "reviews": reviews})


async def one_timeout_for_all(request: web.Request) -> web.Response:
    """get_summary's shape: one timeout around the group makes late reviews a 504 for the page."""
    app, item_id = request.app, svc.item_id_of(request)
    try:
        async with asyncio.timeout(app[svc.SETTINGS].summary_timeout), asyncio.TaskGroup() as tg:
            item = tg.create_task(svc.load_item(app, item_id))
            reviews = tg.create_task(svc.query_reviews(app, item_id))
    except* web.HTTPException as group:
        raise group.exceptions[0] from None
    return web.json_response({**item.result(), "reviews": reviews.result()})


async def group_not_unwrapped(request: web.Request) -> web.Response:
    """Right timeouts, but the TaskGroup's ExceptionGroup reaches the middleware: a 404 becomes 500."""
    app, item_id = request.app, svc.item_id_of(request)
    budget = app[svc.SETTINGS].summary_timeout

    async def reviews_or_none() -> Any:
        try:
            async with asyncio.timeout(budget):
                return await svc.query_reviews(app, item_id)
        except TimeoutError:
            return None

    async with asyncio.TaskGroup() as tg:
        item = tg.create_task(asyncio.wait_for(svc.load_item(app, item_id), budget))
        reviews = tg.create_task(reviews_or_none())
    return web.json_response({**item.result(), "reviews": reviews.result()})


WRONG = [
    Wrong("place_cart", "check-then-act", check_then_act, r"check-then-act.*stock >= \$2"),
    Wrong("place_cart", "no-transaction", no_transaction, r"one transaction for the whole cart"),
    Wrong("place_cart", "transaction-per-line", transaction_per_line, r"one transaction for the whole cart"),
    Wrong("place_cart", "stale-cache", stale_cache, r"cache still holds the old items.*delete"),
    Wrong(
        "item_page",
        "wait-without-cancel",
        wait_without_cancel,
        r"(?s)still running on the server.*cancel.*asyncio\.wait",
    ),
    Wrong("item_page", "one-after-the-other", one_after_the_other, r"concurrently.*TaskGroup"),
    Wrong(
        "item_page", "one-timeout-for-all", one_timeout_for_all, r"reviews are optional.*own asyncio\.timeout"
    ),
    Wrong("item_page", "group-not-unwrapped", group_not_unwrapped, r"ExceptionGroup.*except\*"),
]


def _settings(lab: Lab) -> Any:
    return svc.Settings(postgres_url(), redis_url(), lab.ns)


async def judge_place_cart(answer: Any, lab: Lab) -> None:
    await lab.pool()  # so that the lab drops the namespace's schema and keys afterwards
    await lab.redis()
    await nb18.check_place_cart(answer, svc.make_app, _settings(lab))


async def judge_item_page(answer: Any, lab: Lab) -> None:
    await lab.pool()
    await lab.redis()
    await nb18.check_item_page(answer, svc.make_app, _settings(lab))


CHECKS = {"place_cart": judge_place_cart, "item_page": judge_item_page}
