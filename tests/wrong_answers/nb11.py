"""Wrong answers for notebook 11 · Debugging and performance."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from helpers.checks import nb11

from . import Lab, Wrong

# ------------------------------------------------------------------ the notebook's own pieces
# Copied from the notebook, because a learner's answer calls them as the notebook defines them.

SERVER = {"url": ""}  # the notebook's `server.url`; the judge fills it in


class PricingClient:
    """A synchronous pricing SDK that we cannot change: every quote is a blocking HTTP call."""

    PRICES = {"tea": 3.5, "coffee": 4.25, "cocoa": 3.75}

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def quote(self, item: str) -> float:
        with urllib.request.urlopen(f"{self.base_url}/delay/0.2?item={item}", timeout=10) as resp:
            confirmed = json.load(resp)["args"]["item"]
        return self.PRICES[confirmed]


async def fetch_order(session: aiohttp.ClientSession, order_id: int, item: str) -> dict[str, Any]:
    async with session.get(f"{SERVER['url']}/anything/orders/{order_id}", params={"item": item}) as resp:
        resp.raise_for_status()
        return {"id": order_id, "item": (await resp.json())["args"]["item"]}


def invoice_line(order: dict[str, Any], price: float) -> str:
    return f"order {order['id']}: {order['item']} {price:.2f}"


PriceOf = Callable[[PricingClient, dict[str, Any]], Awaitable[float]]


def invoice_with(price_of: PriceOf) -> Callable[..., Awaitable[list[str]]]:
    """The notebook's `invoice`, around the learner's `price_of`."""

    async def invoice(
        session: aiohttp.ClientSession, pricing: PricingClient, orders: list[tuple[int, str]]
    ) -> list[str]:
        async def line(order_id: int, item: str) -> str:
            order = await fetch_order(session, order_id, item)
            return invoice_line(order, await price_of(pricing, order))

        return list(await asyncio.gather(*(line(order_id, item) for order_id, item in orders)))

    return invoice


# ------------------------------------------------------------------ invoice


async def yields_then_blocks(pricing: PricingClient, order: dict[str, Any]) -> float:
    """The notebook's make_thumbnails: an `await asyncio.sleep(0)` first, then the blocking call anyway."""
    await asyncio.sleep(0)
    return pricing.quote(order["item"])


async def calls_quote_before_to_thread(pricing: PricingClient, order: dict[str, Any]) -> float:
    """Calls quote(...) and hands its *result* to to_thread: the quote already ran on the loop."""
    return await asyncio.to_thread(pricing.quote(order["item"]))  # type: ignore[arg-type]


async def to_thread_not_awaited(pricing: PricingClient, order: dict[str, Any]) -> Any:
    """Forgets the await: price_of returns the to_thread coroutine, which never runs."""
    return asyncio.to_thread(pricing.quote, order["item"])


async def prices_copied_from_the_class(pricing: PricingClient, order: dict[str, Any]) -> float:
    """No blocking left, because the SDK is no longer asked: the price list is copied out of it."""
    return pricing.PRICES[order["item"]]


# ------------------------------------------------------------------ drain_then_stop


async def cancel_first(queue: asyncio.Queue[Any], workers: list[asyncio.Task[Any]], timeout: float) -> bool:
    """The notebook's `drain_first=False`: cancels the workers, then waits for a queue nobody empties."""
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    try:
        async with asyncio.timeout(timeout):
            await queue.join()
    except TimeoutError:
        return False
    return True


async def no_timeout(queue: asyncio.Queue[Any], workers: list[asyncio.Task[Any]], timeout: float) -> bool:
    """Waits for the queue without a deadline: one stuck item and shutdown never ends."""
    await queue.join()
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return True


async def cancel_without_awaiting(
    queue: asyncio.Queue[Any], workers: list[asyncio.Task[Any]], timeout: float
) -> bool:
    """Cancels the workers but returns before they have finished cancelling."""
    try:
        async with asyncio.timeout(timeout):
            await queue.join()
        drained = True
    except TimeoutError:
        drained = False
    for task in workers:
        task.cancel()
    return drained


async def cancel_only_on_success(
    queue: asyncio.Queue[Any], workers: list[asyncio.Task[Any]], timeout: float
) -> bool:
    """No `finally:`: when the timeout expires it returns False and leaves the workers running."""
    try:
        async with asyncio.timeout(timeout):
            await queue.join()
    except TimeoutError:
        return False
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return True


async def gather_without_return_exceptions(
    queue: asyncio.Queue[Any], workers: list[asyncio.Task[Any]], timeout: float
) -> bool:
    """Awaits the cancelled workers with a plain gather, which raises their CancelledError."""
    try:
        async with asyncio.timeout(timeout):
            await queue.join()
        drained = True
    except TimeoutError:
        drained = False
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers)
    return drained


async def polls_queue_empty(
    queue: asyncio.Queue[Any], workers: list[asyncio.Task[Any]], timeout: float
) -> bool:
    """Polls queue.empty(): true as soon as the last item is *taken*, while it is still being processed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not queue.empty() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return queue.empty()


async def sleeps_the_whole_timeout(
    queue: asyncio.Queue[Any], workers: list[asyncio.Task[Any]], timeout: float
) -> bool:
    """Gives the workers the whole timeout, drained or not, then looks whether anything is unfinished."""
    await asyncio.sleep(timeout)
    drained = queue._unfinished_tasks == 0  # type: ignore[attr-defined]
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return drained


WRONG = [
    Wrong(
        "invoice",
        "yields, then blocks anyway",
        invoice_with(yields_then_blocks),
        r"(?s)slow step.*blocking SDK call",
    ),
    Wrong(
        "invoice",
        "quote() called before to_thread",
        invoice_with(calls_quote_before_to_thread),
        r"pass the function and its arguments separately",
    ),
    Wrong("invoice", "to_thread not awaited", invoice_with(to_thread_not_awaited), r"add `await`"),
    Wrong(
        "invoice",
        "prices copied, SDK skipped",
        invoice_with(prices_copied_from_the_class),
        r"did not come from it",
    ),
    Wrong("drain_then_stop", "cancel first, then drain", cancel_first, r"(?s)still queued.*drain first"),
    Wrong("drain_then_stop", "no timeout on the drain", no_timeout, r"did not return within"),
    Wrong("drain_then_stop", "cancels without awaiting", cancel_without_awaiting, r"still running after"),
    Wrong(
        "drain_then_stop",
        "cancels only when drained",
        cancel_only_on_success,
        r"(?s)still running after.*finally",
    ),
    Wrong(
        "drain_then_stop",
        "gather without return_exceptions",
        gather_without_return_exceptions,
        r"return_exceptions=True",
    ),
    Wrong(
        "drain_then_stop", "polls queue.empty()", polls_queue_empty, r"an empty queue is not a drained one"
    ),
    Wrong(
        "drain_then_stop",
        "sleeps the whole timeout",
        sleeps_the_whole_timeout,
        r"do not sleep for the whole timeout",
    ),
]


async def judge_invoice(answer: Any, lab: Lab) -> None:
    SERVER["url"] = lab.server.url
    await nb11.check_invoice(answer, PricingClient(lab.server.url))


async def judge_drain_then_stop(answer: Any, lab: Lab) -> None:
    await nb11.check_drain_then_stop(answer)


CHECKS = {"invoice": judge_invoice, "drain_then_stop": judge_drain_then_stop}
