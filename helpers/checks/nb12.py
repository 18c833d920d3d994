"""Checks for notebook 12 · Capstone: a web crawler.

    await nb12.check_max_pages(BudgetCrawler, Fetcher, server)   # server = helpers.labserver.start()
    await nb12.check_polite(PoliteFetcher, Crawler, server)

Each check runs fresh crawls of the lab server's site (``server.url + "/site/"``) with the learner's
class and no cache, so every URL goes over the network, and judges them by what the server saw
(``server.reset()`` first, then ``stats()["per_path"]`` or ``requests("/site")``) and by
:func:`helpers.crawlsite.ground_truth`.  They rely on the notebook's crawler interface:

* ``fetcher_cls(**options)`` makes a fetcher that is opened with ``async with`` and has ``attempts``;
* ``crawler_cls(start, fetcher, *, max_depth=None, **options)`` makes a crawler, ``await
  crawler.crawl()`` runs it, and ``crawler.found.pages`` maps every fetched path to a page with a
  ``status``.

Retried URLs follow the notebook's rule: one request for every URL that gave a final answer (below
500), at most ``attempts`` for one that answered 5xx or not at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from helpers.checks import exercise, expect, raise_if_stub
from helpers.crawlsite import ground_truth

BUDGETS = (1, 12)  # 12 cuts into depth 3 of the site: depths 0-2 hold 7 URLs, depth 3 nine more
NEAR_DEPTH = 2  # every URL this close to the start fits into the larger budget
POLITE_DELAY = 0.1  # seconds between request starts
POLITE_DEPTH = 3  # 16 URLs and the retried 500 page: about 2 s at this delay
GAP_TOLERANCE = 0.5  # a gap of half the delay passes: the server's clock sees scheduling noise


async def _crawl(crawler: Any) -> None:
    """Run the learner's crawl; an untouched stub inside the TaskGroup still reads "not written yet"."""
    try:
        await crawler.crawl()
    except BaseExceptionGroup as group:
        raise_if_stub(group)
        raise


async def _run(fetcher: Any, make_crawler: Any) -> Any:
    """Open the fetcher, crawl, close it; then insist that the crawl left no task behind."""
    before = asyncio.all_tasks()
    async with fetcher:
        crawler = make_crawler(fetcher)
        await _crawl(crawler)
    stray = [t for t in asyncio.all_tasks() - before if not t.done()]
    expect(
        not stray,
        f"{len(stray)} task(s) still running after crawl() returned",
        "leave the task structure of Crawler alone: workers live inside the TaskGroup only",
    )
    return crawler


def _site_requests(server: Any) -> dict[str, int]:
    return {p: n for p, n in server.stats()["per_path"].items() if p.startswith("/site")}


def _over_requested(requested: dict[str, int], crawler: Any, attempts: int) -> list[str]:
    pages = crawler.found.pages
    return sorted(
        p
        for p, n in requested.items()
        if n > (attempts if p in pages and not 0 < pages[p].status < 500 else 1)
    )


@exercise("max_pages", timeout=30)
async def check_max_pages(crawler_cls: Any, fetcher_cls: Any, server: Any) -> str:
    start = f"{server.url}/site/"
    truth = ground_truth(start)
    for budget in BUDGETS:
        server.reset()
        fetcher = fetcher_cls()
        crawler = await _run(fetcher, lambda f, budget=budget: crawler_cls(start, f, max_pages=budget))
        requested = _site_requests(server)
        expect(
            len(requested) <= budget,
            f"with max_pages={budget} the lab server saw requests for {len(requested)} different URLs",
            "return False from admit() once max_pages URLs have been admitted "
            "(self.depth holds every URL scheduled so far)",
        )
        expect(
            len(requested) == budget,
            f"with max_pages={budget} only {len(requested)} URLs were requested, "
            f"though the site has {len(truth.fetched)}",
            "keep admitting new URLs until the budget is spent",
        )
        expect(
            set(crawler.found.pages) == set(requested),
            "the crawler's found.pages differ from the URLs the server was asked for",
            "change only admit(); let the worker record every page it fetches",
        )
        strange = sorted(set(requested) - truth.fetched)
        expect(
            not strange,
            f"requested {strange}, which a correct crawler never fetches",
            "admit() decides only how many; discover() already checks in-site, robots.txt and duplicates",
        )
        again = _over_requested(requested, crawler, getattr(fetcher, "attempts", 3))
        expect(
            not again,
            f"requested more than once: {again}",
            "count a URL once, when it is admitted, and admit each URL only once",
        )
    near = {p for p, d in truth.depth.items() if d <= NEAR_DEPTH}
    missing = sorted(near - set(requested))  # `requested` is from the largest budget
    expect(
        not missing,
        f"{missing} (within {NEAR_DEPTH} links of the start) were not fetched, while deeper URLs were",
        "spend the budget in the order URLs are found: the level queue already makes it breadth-first",
    )
    return (
        f"budgets of {' and '.join(map(str, BUDGETS))} URLs were kept exactly, each URL requested once, "
        "the nearest URLs first"
    )


@exercise("polite", timeout=30)
async def check_polite(fetcher_cls: Any, crawler_cls: Any, server: Any) -> str:
    start = f"{server.url}/site/"
    truth = ground_truth(start, max_depth=POLITE_DEPTH)
    server.reset()
    fetcher = fetcher_cls(delay=POLITE_DELAY)
    crawler = await _run(fetcher, lambda f: crawler_cls(start, f, max_depth=POLITE_DEPTH))
    starts = [r.started for r in server.requests("/site")]
    expect(
        len(starts) >= 2,
        f"the lab server saw {len(starts)} request(s) under /site",
        "before_request should only wait, never skip or fail a request",
    )
    shortest = min(b - a for a, b in zip(starts, starts[1:], strict=False))
    expect(
        shortest >= GAP_TOLERANCE * POLITE_DELAY,
        f"two requests started {shortest * 1000:.0f} ms apart; the delay is {POLITE_DELAY * 1000:.0f} ms",
        "remember when the latest request to each host started and sleep until `delay` has passed; "
        "let one waiter at a time decide (an asyncio.Lock per host), or all waiting workers wake together",
    )
    fetched = set(crawler.found.pages)
    expect(
        fetched == truth.fetched,
        f"the crawl fetched {len(fetched)} URLs; the ground truth for max_depth={POLITE_DEPTH} "
        f"has {len(truth.fetched)}",
        "before_request should only wait: never skip a request or raise",
    )
    again = _over_requested(_site_requests(server), crawler, getattr(fetcher, "attempts", 3))
    expect(not again, f"requested more than once: {again}", "before_request must not send requests itself")
    return (
        f"{len(starts)} requests, each starting at least {POLITE_DELAY * 1000:.0f} ms after the one "
        "before, and the same URLs as the ground truth"
    )
