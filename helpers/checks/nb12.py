"""Checks for notebook 12 · Capstone: a web crawler.

    await nb12.check_max_pages(BudgetCrawler, Fetcher, server)   # server = helpers.labserver.start()
    await nb12.check_crawl_site(crawl_site, Fetcher, server)
    await nb12.check_polite(PoliteFetcher, Crawler, server)

Each check runs fresh crawls of the lab server's site (``server.url + "/site/"``) with the learner's
code and no cache, so every URL goes over the network, and judges them by what the server saw
(``server.reset()`` first, then ``stats()["per_path"]`` or ``requests("/site")``) and by
:func:`helpers.crawlsite.ground_truth`.  They rely on the notebook's crawler interface:

* ``fetcher_cls(**options)`` makes a fetcher that is opened with ``async with`` and has ``attempts``;
* ``crawler_cls(start, fetcher, *, max_depth=None, **options)`` makes a crawler, ``await
  crawler.crawl()`` runs it, and ``crawler.found.pages`` maps every fetched path to a page with a
  ``status``;
* ``await crawl_site(start, fetcher, limit=n)`` (exercise 2) returns ``{URL: depth}`` and may use
  only ``fetcher.get(url)``, which the check watches: calls in flight, calls per URL, and a page
  it holds back so that a crawl without levels finds some URLs along longer paths first.

Retried URLs follow the notebook's rule: one request for every URL that gave a final answer (below
500), at most ``attempts`` for one that answered 5xx or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from helpers.checks import Hung, exercise, expect, outcome, raise_if_stub, stop_stray_tasks, tasks_alive_since
from helpers.checks.scenarios import InFlight
from helpers.crawlsite import ground_truth
from helpers.timeline import LagMonitor

BUDGETS = (1, 12)  # 12 cuts into depth 3 of the site: depths 0-2 hold 7 URLs, depth 3 nine more
NEAR_DEPTH = 2  # every URL this close to the start fits into the larger budget
POLITE_DELAY = 0.1  # seconds between request starts
POLITE_DEPTH = 3  # 16 URLs and the retried 500 page: about 2 s at this delay
GAP_TOLERANCE = 0.5  # a gap of half the delay passes: the server's clock sees scheduling noise
FROZEN = 0.8  # a heartbeat this many delays late means the loop was blocked, not merely busy
FROZEN_COUNT = 3  # ... and it must happen this often: one stall on a loaded machine is no verdict
HOST_ROUNDS = 6  # requests per host in the two-host test: 127.0.0.1 and localhost, one server

CRAWL_LIMIT = 3  # fetches allowed in flight at once; levels 3 to 6 of the site hold 9 to 19 URLs
CRAWL_HANG = 5.0  # seconds: a correct crawl takes about 1.5 (the slow page alone takes 1): over 3× that
HELD_BACK = "/site/page/3"  # depth 2; its children 6 and 7 are also linked from depth-4 pages
HOLD_SECONDS = 0.3  # long enough for a crawl without levels to reach depth 4 through page 2
CANCEL_WITHIN = 2.0  # seconds a cancelled crawl may take to stop


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
    stray = tasks_alive_since(before)
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
            len(requested) != budget + 1,
            f"with max_pages={budget} the lab server saw requests for {budget + 1} different URLs",
            "one URL too many: admit while fewer than max_pages are scheduled (`<`, not `<=`); "
            "the start URL counts too",
        )
        expect(
            len(requested) <= budget,
            f"with max_pages={budget} the lab server saw requests for {len(requested)} different URLs",
            "count the URLs admitted so far (self.depth holds every URL scheduled), not the pages "
            "fetched: the workers fetch them later, so found.pages lags behind and the budget overflows",
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


class _Watched:
    """The fetcher as the learner's crawl sees it: every ``get`` counted, one answer held back."""

    def __init__(self, fetcher: Any) -> None:
        self.fetcher = fetcher
        self.calls: Counter[str] = Counter()  # path -> calls of get()
        self.in_flight = InFlight()
        self.holding = asyncio.Event()  # set while the held-back page is being fetched

    async def get(self, url: str, lane: str = "main") -> Any:
        path = urlsplit(url).path
        self.calls[path] += 1
        with self.in_flight:
            page = await self.fetcher.get(url, lane)
            if path == HELD_BACK:
                self.holding.set()
                await asyncio.sleep(HOLD_SECONDS)  # a slow branch: the rest of the site runs ahead
            return page


def _paths(result: Any, origin: str) -> dict[str, Any]:
    """The learner's {URL: depth} as {path: depth}; paths are accepted as keys too."""
    return {(key[len(origin) :] if key.startswith(origin) else key): d for key, d in result.items()}


@exercise("crawl_site", timeout=3 * CRAWL_HANG)
async def check_crawl_site(crawl_site: Any, fetcher_cls: Any, server: Any) -> str:
    start = f"{server.url}/site/"
    truth = ground_truth(start, obey_robots=False)
    server.reset()
    before = asyncio.all_tasks()
    async with fetcher_cls(per_host=10 * CRAWL_LIMIT) as fetcher:
        watched = _Watched(fetcher)
        result, error = await outcome(crawl_site(start, watched, limit=CRAWL_LIMIT), limit=CRAWL_HANG)
        stray = await stop_stray_tasks(before)
    _judge_ending(result, error, stray, watched)
    _judge_requests(server, watched, truth)
    _judge_result(_paths(result, server.url), watched, truth)
    await _judge_cancellation(crawl_site, fetcher_cls, start)
    return (
        f"all {len(truth.fetched)} URLs fetched once each, at the ground truth's depths, at most "
        f"{CRAWL_LIMIT} at a time, error pages kept; it ended by itself, and cancelled, left no task behind"
    )


def _judge_ending(result: Any, error: BaseException | None, stray: list[Any], watched: _Watched) -> None:
    expect(
        not isinstance(error, Hung),
        f"crawl_site did not return within {CRAWL_HANG:g} s ({sum(watched.calls.values())} fetches made)",
        "the crawl must end when no URL is left: a worker waiting on queue.get() never returns by "
        "itself; await queue.join(), then cancel the workers (or send each a sentinel)",
    )
    expect(
        error is None,
        f"crawl_site raised {type(error).__name__}: {error}",
        "an error page (404, 500, or status 0 for no answer) is an answer, not a reason to stop: "
        "keep its URL in the result and go on crawling",
    )
    expect(
        not stray,
        f"{len(stray)} task(s) still running after crawl_site returned",
        "workers made with create_task() still wait on queue.get() after queue.join(): start them in "
        "an asyncio.TaskGroup and cancel them once the work is done",
    )
    expect(
        isinstance(result, dict),
        f"crawl_site returned {type(result).__name__}, not a dict",
        "return {URL: depth} for every URL fetched",
    )


def _judge_requests(server: Any, watched: _Watched, truth: Any) -> None:
    per_path = {p: n for p, n in server.stats()["per_path"].items() if p.startswith(("/site", "/deny"))}
    unwatched = sorted(p for p in per_path if p not in watched.calls)
    expect(
        not unwatched,
        f"the lab server was asked for {unwatched[:3]}, which fetcher.get() never was",
        "fetch every URL with fetcher.get(url): it retries, limits and records",
    )
    twice = sorted(p for p, n in watched.calls.items() if n > 1)
    expect(
        not twice,
        f"fetched more than once: {twice[:4]}{' …' if len(twice) > 4 else ''}",
        "mark a URL as seen when you schedule it, before it is queued, not when it is fetched: "
        "two pages that link it schedule it twice otherwise",
    )
    expect(
        watched.in_flight.peak <= CRAWL_LIMIT,
        f"{watched.in_flight.peak} fetches were in flight at once; limit={CRAWL_LIMIT}",
        "the concurrency limit is ignored: hold an asyncio.Semaphore(limit) around each fetch, "
        "or run exactly `limit` workers",
    )
    expect(
        watched.in_flight.peak >= 2,
        "never more than one fetch was in flight: the URLs were fetched one after another",
        "fetch the URLs of a level concurrently: a task each (in a TaskGroup) or `limit` workers",
    )


def _judge_result(result: dict[str, Any], watched: _Watched, truth: Any) -> None:
    missing = sorted(truth.fetched - set(watched.calls))
    broken = sorted(set(missing) & truth.broken)
    expect(
        not broken,
        f"never fetched: {broken}, and {len(missing) - len(broken)} more URL(s)",
        "an error page is an answer: do not stop the crawl (or a worker) at a 404 or 500; keep going",
    )
    expect(
        not missing,
        f"never fetched: {missing[:4]}{' …' if len(missing) > 4 else ''}",
        "follow what leads_to(page) returns: links one level deeper, a redirect's target on the same level",
    )
    strange = sorted(set(watched.calls) - truth.fetched)
    expect(not strange, f"fetched {strange[:4]}, which a correct crawl never does", "fetch in-site URLs only")
    unlisted = sorted(truth.fetched - set(result))
    errors = sorted(set(unlisted) & truth.broken)
    expect(
        not errors,
        f"the result leaves out the error pages {errors}",
        "keep error pages in the result: a 404 or 500 was fetched like any other URL",
    )
    expect(
        set(result) == truth.fetched,
        f"the result lists {len(result)} URLs; {len(truth.fetched)} were fetched"
        + (f" (missing: {unlisted[:3]})" if unlisted else ""),
        "return {URL: depth} with every URL fetched, and nothing else",
    )
    wrong = sorted((p, d) for p, d in result.items() if d != truth.depth[p])
    expect(
        not wrong,
        f"{len(wrong)} depth(s) wrong, e.g. {wrong[0][0]} at depth {wrong[0][1]}; the ground truth says "
        f"{truth.depth[wrong[0][0]]}"
        if wrong
        else "",
        "crawl level by level: start depth d + 1 only when all of depth d is done (a slow page held "
        "back its level), and give a redirect's target the redirect's depth",
    )


async def _judge_cancellation(crawl_site: Any, fetcher_cls: Any, start: str) -> None:
    before = asyncio.all_tasks()
    async with fetcher_cls(per_host=10 * CRAWL_LIMIT) as fetcher:
        watched = _Watched(fetcher)
        crawl = asyncio.ensure_future(crawl_site(start, watched, limit=CRAWL_LIMIT))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watched.holding.wait(), CRAWL_HANG)  # busy on level 2
        crawl.cancel()
        await asyncio.wait({crawl}, timeout=CANCEL_WITHIN)
        await asyncio.sleep(0.05)  # tasks cancelled along with the crawl get to finish
        stray = tasks_alive_since(before)
        await stop_stray_tasks(before)
    expect(
        crawl.done(),
        f"crawl_site was still running {CANCEL_WITHIN:g} s after it was cancelled",
        "let CancelledError propagate: never catch it (or a bare except) around the crawl's awaits",
    )
    ended = "" if crawl.cancelled() else repr(crawl.exception() or "returned")
    expect(
        crawl.cancelled(),
        f"crawl_site, cancelled, did not end with CancelledError but {ended}",
        "let CancelledError propagate: never catch it (or a bare except) around the crawl's awaits",
    )
    expect(
        not stray,
        f"{len(stray)} task(s) kept running after the crawl was cancelled",
        "start tasks inside an asyncio.TaskGroup: cancelling the crawl then cancels them too; loose "
        "create_task() workers outlive it",
    )


@exercise("polite", timeout=30)
async def check_polite(fetcher_cls: Any, crawler_cls: Any, server: Any) -> str:
    start = f"{server.url}/site/"
    truth = ground_truth(start, max_depth=POLITE_DEPTH)
    server.reset()
    fetcher = fetcher_cls(delay=POLITE_DELAY)
    async with LagMonitor() as lag:
        crawler = await _run(fetcher, lambda f: crawler_cls(start, f, max_depth=POLITE_DEPTH))
    frozen = [late for _, late in lag.samples if late >= FROZEN * POLITE_DELAY]
    expect(
        len(frozen) < FROZEN_COUNT,
        f"the event loop froze {len(frozen)} times for {FROZEN * POLITE_DELAY * 1000:.0f} ms or more",
        "time.sleep() blocks the event loop, and every other task with it: await asyncio.sleep() instead",
    )
    starts = [r.started for r in server.requests("/site")]
    expect(
        len(starts) >= 2,
        f"the lab server saw {len(starts)} request(s) under /site",
        "before_request should only wait, never skip or fail a request",
    )
    _judge_gaps(starts, "")
    fetched = set(crawler.found.pages)
    expect(
        fetched == truth.fetched,
        f"the crawl fetched {len(fetched)} URLs; the ground truth for max_depth={POLITE_DEPTH} "
        f"has {len(truth.fetched)}",
        "before_request should only wait: never skip a request or raise",
    )
    again = _over_requested(_site_requests(server), crawler, getattr(fetcher, "attempts", 3))
    expect(not again, f"requested more than once: {again}", "before_request must not send requests itself")
    await _judge_two_hosts(fetcher_cls, server)
    return (
        f"{len(starts)} requests, each starting at least {POLITE_DELAY * 1000:.0f} ms after the one "
        "before, and the same URLs as the ground truth"
    )


def _judge_gaps(starts: list[float], where: str) -> None:
    shortest = min(b - a for a, b in zip(starts, starts[1:], strict=False))
    expect(
        shortest >= GAP_TOLERANCE * POLITE_DELAY,
        f"two requests{where} started {shortest * 1000:.0f} ms apart; the delay is "
        f"{POLITE_DELAY * 1000:.0f} ms",
        "the waiting workers woke together: sleeping `delay` in each request, or deciding without a lock, "
        "does not space them; let one waiter at a time decide (an asyncio.Lock per host) from the time "
        "the host's latest request started",
    )


async def _judge_two_hosts(fetcher_cls: Any, server: Any) -> None:
    """127.0.0.1 and localhost are two hosts to the fetcher, one server to us: each host keeps the
    delay, and the two do not wait for each other."""
    port = urlsplit(server.url).port
    hosts = {f"http://127.0.0.1:{port}": range(1, 1 + HOST_ROUNDS)}
    hosts[f"http://localhost:{port}"] = range(1 + HOST_ROUNDS, 1 + 2 * HOST_ROUNDS)
    server.reset()
    async with fetcher_cls(delay=POLITE_DELAY) as fetcher:
        urls = [f"{host}/site/page/{n}" for host, pages in hosts.items() for n in pages]
        await asyncio.gather(*(fetcher.get(url) for url in urls))
    records = sorted(server.requests("/site/page"), key=lambda r: r.started)
    first_host = {f"/site/page/{n}" for n in hosts[f"http://127.0.0.1:{port}"]}
    for name, mine in (("127.0.0.1", True), ("localhost", False)):
        _judge_gaps([r.started for r in records if (r.path in first_host) == mine], f" to {name}")
    close = sum(
        1
        for a, b in zip(records, records[1:], strict=False)
        if (a.path in first_host) != (b.path in first_host)
        and b.started - a.started < GAP_TOLERANCE * POLITE_DELAY
    )
    expect(
        close > 0,
        f"requests to 127.0.0.1 and to localhost were never less than {GAP_TOLERANCE * POLITE_DELAY * 1000:.0f} ms "
        "apart, as if they were one host",
        "the delay is per host: one lock (and one latest start) for every host makes all hosts wait for "
        "each other; keep them in a dict keyed by host",
    )
