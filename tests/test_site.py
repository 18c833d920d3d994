"""The crawlable site: its shape, its determinism, and a crawl that matches the ground truth.

The reference crawler below follows the rules in helpers/crawlsite.py's docstring
and shares no code with ``ground_truth`` except ``normalize`` (tested on its
own here), so the two agree only if the site and its truth really match.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import aiohttp
import pytest

from helpers import crawlsite

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://127.0.0.1:8000"


class LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value is not None]


def extract_links(html: str) -> list[str]:
    parser = LinkParser()
    parser.feed(html)
    parser.close()
    return parser.hrefs


def in_site_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# ------------------------------------------------------------------ the site


def served_html_pages() -> list[str]:
    return [
        p
        for p in crawlsite.paths()
        if crawlsite.resource(p).status == 200 and crawlsite.resource(p).content_type == "text/html"
    ]


def test_site_has_at_least_fifty_html_pages():
    assert len(served_html_pages()) >= 50
    assert len(crawlsite.ground_truth().pages) >= 50


def test_site_is_the_same_in_a_fresh_process_with_another_hash_seed():
    script = (
        "import hashlib; from helpers import crawlsite; h = hashlib.sha256()\n"
        "for p in crawlsite.paths(): h.update(p.encode() + crawlsite.body(p, 'http://h:1'))\n"
        "print(h.hexdigest())"
    )
    digest = hashlib.sha256()
    for path in crawlsite.paths():
        digest.update(path.encode() + crawlsite.body(path, "http://h:1"))
    other = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert other.stdout.strip() == digest.hexdigest()


def test_served_bytes_equal_the_model_and_repeat(server):
    async def fetch_twice(path: str) -> tuple[bytes, bytes]:
        async with aiohttp.ClientSession() as session:
            bodies = []
            for _ in range(2):
                async with session.get(server.url + path, allow_redirects=False) as resp:
                    bodies.append(await resp.read())
            return bodies[0], bodies[1]

    for path in ("/site/", "/site/page/14", "/site/malformed", "/site/images/logo.png"):
        first, second = asyncio.run(fetch_twice(path))
        assert first == second == crawlsite.body(path, server.url)


def test_absolute_links_point_at_the_host_the_request_used(server):
    html = crawlsite.body("/site/", server.url).decode()
    assert f'href="{server.url}/site/"' in html
    other = crawlsite.body("/site/page/14", ORIGIN).decode()
    assert 'href="HTTP://127.0.0.1:8000/site/page/28"' in other  # upper-case scheme on purpose


@pytest.mark.parametrize("path", served_html_pages())
def test_parsed_links_of_every_page_match_the_model(path):
    base = ORIGIN + path
    parsed = [crawlsite.normalize(h, base) for h in extract_links(crawlsite.body(path, ORIGIN).decode())]
    declared = [
        crawlsite.normalize(link.href.format(origin=ORIGIN, host="127.0.0.1:8000"), base)
        for link in crawlsite.resource(path).links
    ]
    assert parsed == declared


def test_malformed_page_parses_without_error_and_hides_commented_and_scripted_links():
    hrefs = extract_links(crawlsite.body("/site/malformed", ORIGIN).decode())
    assert hrefs == ["/site/page/7", "/site/page/8", "page/9", "/site/page/11"]


def test_the_oversized_page_is_html_bigger_than_the_parse_cap():
    res = crawlsite.resource("/site/big")
    assert res.status == 200 and res.content_type == "text/html"
    assert len(crawlsite.body("/site/big", ORIGIN)) > 2 * crawlsite.MAX_PAGE_BYTES


def test_special_responses_have_the_promised_status_and_type(server):
    async def probe(path: str) -> tuple[int, str, str | None]:
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + path, allow_redirects=False) as resp:
                await resp.read()
                return resp.status, resp.content_type, resp.headers.get("Location")

    expected = {
        "/site/old-about": (301, "text/plain", "/site/about"),
        "/site/loop-a": (302, "text/plain", "loop-b"),
        "/site/loop-b": (302, "text/plain", "/site/loop-a"),
        "/site/missing": (404, "text/html", None),
        "/site/error": (500, "text/html", None),
        "/site/files/report.pdf": (200, "application/pdf", None),
        "/site/data.json": (200, "application/json", None),
        "/site/images/logo.png": (200, "image/png", None),
        "/site": (301, "text/plain", "/site/"),
    }
    for path, want in expected.items():
        assert asyncio.run(probe(path)) == want, path


# ---------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    "href, base, expected",
    [
        ("page/2", "http://h:1/site/", "http://h:1/site/page/2"),
        ("../about#team", "http://h:1/site/page/3", "http://h:1/site/about"),
        ("./7", "http://h:1/site/page/3", "http://h:1/site/page/7"),
        ("", "http://h:1/site/contact", "http://h:1/site/contact"),
        ("#top", "http://h:1/site/", "http://h:1/site/"),
        ("HTTP://OFFSITE.invalid:80/", "http://h:1/", "http://offsite.invalid/"),
        ("https://Elsewhere.invalid:443", "http://h:1/", "https://elsewhere.invalid/"),
        ("//cdn.invalid/lib.js", "http://h:1/site/about", "http://cdn.invalid/lib.js"),
        ("/q?a=1#x", "http://h:1/", "http://h:1/q?a=1"),
        ("mailto:lab@example.invalid", "http://h:1/", None),
        ("javascript:void(0)", "http://h:1/", None),
        ("tel:+100", "http://h:1/", None),
    ],
)
def test_normalize_follows_the_documented_rules(href, base, expected):
    assert crawlsite.normalize(href, base) == expected


def test_robots_allows_agrees_with_urllib_robotparser():
    robots = RobotFileParser()
    robots.parse(crawlsite.ROBOTS_TXT.splitlines())
    candidates = [*crawlsite.paths(), "/site/private", "/site/privateer", "/deny/x", "/get"]
    for path in candidates:
        assert crawlsite.robots_allows(path) == robots.can_fetch("lab-crawler", ORIGIN + path), path


# ------------------------------------------------------------- ground truth


def test_ground_truth_obeying_robots():
    truth = crawlsite.ground_truth()
    assert truth.fetched == truth.pages | truth.files | truth.broken | set(truth.redirects)
    assert truth.disallowed == {"/deny", "/site/private/", "/site/private/2"}
    assert truth.offsite == {
        "http://offsite.invalid/",
        "https://elsewhere.invalid/",
        "https://elsewhere.invalid/page/6",
        "http://cdn.invalid/lib.js",
    }
    assert truth.broken == {"/site/missing", "/site/error", "/site/page/999"}
    assert truth.files == {"/site/data.json", "/site/files/report.pdf", "/site/images/logo.png"}
    assert dict(truth.redirects) == {
        "/site/old-about": "/site/about",
        "/site/old-news": "/site/news",
        "/site/loop-a": "/site/loop-b",
        "/site/loop-b": "/site/loop-a",
    }
    assert "/site/big" in truth.pages and "/site/news" in truth.pages
    assert not any(p.startswith(("/site/private", "/site/hidden", "/site/trap")) for p in truth.fetched)
    assert "/robots.txt" not in truth.fetched


def test_ground_truth_ignoring_robots_reaches_the_hidden_section():
    obeying, ignoring = crawlsite.ground_truth(), crawlsite.ground_truth(obey_robots=False)
    assert ignoring.disallowed == set()
    assert ignoring.fetched - obeying.fetched == {
        "/deny",
        "/site/private/",
        "/site/private/1",
        "/site/private/2",
        "/site/private/3",
        "/site/hidden/1",
        "/site/hidden/2",
        "/site/hidden/3",
    }
    assert "/deny" in ignoring.files


def test_ground_truth_depth_limits():
    assert crawlsite.ground_truth(max_depth=0).fetched == {"/site/"}
    assert crawlsite.ground_truth(max_depth=1).fetched == {
        "/site/",
        "/site/about",
        "/site/contact",
        "/site/page/1",
        "/site/old-about",
    }
    assert crawlsite.ground_truth(max_depth=1).disallowed == {"/site/private/"}
    sizes = [len(crawlsite.ground_truth(max_depth=d).fetched) for d in range(8)]
    assert sizes == sorted(sizes) and sizes[-1] == len(crawlsite.ground_truth().fetched)


def test_redirect_targets_keep_the_depth_of_the_redirecting_url():
    depth = crawlsite.ground_truth().depth
    assert depth["/site/old-news"] == depth["/site/news"] == 4
    assert depth["/site/loop-a"] == depth["/site/loop-b"] == 3


def test_some_pages_are_only_reachable_at_depth_three_or_more():
    truth = crawlsite.ground_truth()
    deep = {p for p, d in truth.depth.items() if d >= 3}
    assert len(deep) >= 30
    assert {"/site/malformed", "/site/slow", "/site/page/48"} <= deep
    assert crawlsite.ground_truth(obey_robots=False).depth["/site/hidden/1"] == 3


def test_ground_truth_accepts_a_full_start_url():
    by_url = crawlsite.ground_truth("http://127.0.0.1:4242/site/")
    by_path = crawlsite.ground_truth()
    assert by_url.fetched == by_path.fetched
    assert by_url.start == "http://127.0.0.1:4242/site/"


# ---------------------------------------------------------- reference crawl


@dataclass
class Crawl:
    fetched: set[str] = field(default_factory=set)
    pages: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)
    redirects: dict[str, str] = field(default_factory=dict)
    offsite: set[str] = field(default_factory=set)
    disallowed: set[str] = field(default_factory=set)


async def reference_crawl(start: str, *, obey_robots: bool = True, max_depth: int | None = None) -> Crawl:
    """Breadth-first, one level at a time; redirects are closed within their level."""
    crawl = Crawl()
    start_url = crawlsite.normalize(start, start)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(start_url))
    robots = RobotFileParser()
    async with aiohttp.ClientSession() as session:
        if obey_robots:
            async with session.get(f"{origin}/robots.txt") as resp:
                robots.parse((await resp.text()).splitlines())
        else:
            robots.parse([])

        async def visit(url: str) -> tuple[str, int, str, str | None, bytes]:
            async with session.get(url, allow_redirects=False) as resp:
                return url, resp.status, resp.content_type, resp.headers.get("Location"), await resp.read()

        seen = {start_url}
        level, depth = [start_url], 0
        while level:
            found: list[str] = []  # links for the next level
            while level:  # the level, plus redirect targets (same depth)
                to_fetch = []
                for url in level:
                    if not url.startswith(origin + "/"):
                        crawl.offsite.add(url)
                    elif not robots.can_fetch("lab-crawler", url):
                        crawl.disallowed.add(in_site_path(url))
                    else:
                        to_fetch.append(url)
                level = []
                for url, status, ctype, location, body in await asyncio.gather(*(visit(u) for u in to_fetch)):
                    path = in_site_path(url)
                    crawl.fetched.add(path)
                    if 300 <= status < 400:
                        target = crawlsite.normalize(location, url)
                        crawl.redirects[path] = (
                            in_site_path(target) if target.startswith(origin + "/") else target
                        )
                        if target not in seen:
                            seen.add(target)
                            level.append(target)
                    elif status >= 400:
                        crawl.broken.add(path)
                    elif ctype != "text/html":
                        crawl.files.add(path)
                    else:
                        crawl.pages.add(path)
                        if len(body) <= crawlsite.MAX_PAGE_BYTES and (max_depth is None or depth < max_depth):
                            hrefs = extract_links(body.decode("utf-8", errors="replace"))
                            found += [u for h in hrefs if (u := crawlsite.normalize(h, url))]
            level = [u for u in dict.fromkeys(found) if u not in seen]
            seen.update(level)
            depth += 1
    return crawl


def assert_crawl_matches(crawl: Crawl, truth: crawlsite.CrawlTruth) -> None:
    assert crawl.fetched == truth.fetched
    assert crawl.pages == truth.pages
    assert crawl.files == truth.files
    assert crawl.broken == truth.broken
    assert crawl.redirects == dict(truth.redirects)
    assert crawl.offsite == truth.offsite
    assert crawl.disallowed == truth.disallowed


def test_reference_crawl_matches_ground_truth_and_fetches_each_path_once(server):
    server.reset()
    start = f"{server.url}/site/"
    crawl = asyncio.run(reference_crawl(start))
    truth = crawlsite.ground_truth(start)
    assert_crawl_matches(crawl, truth)
    per_path = server.stats()["per_path"]
    assert per_path == {**{path: 1 for path in truth.fetched}, "/robots.txt": 1}
    assert not any(p.startswith(("/site/private", "/site/hidden", "/site/trap", "/deny")) for p in per_path)
    (slow,) = server.requests("/site/slow")
    assert crawlsite.SLOW_SECONDS * 0.9 <= slow.duration < 5  # the slow page really is slow


def test_reference_crawl_without_robots_and_with_a_depth_limit_matches(server):
    server.reset()
    start = f"{server.url}/site/"
    crawl = asyncio.run(reference_crawl(start, obey_robots=False, max_depth=3))
    truth = crawlsite.ground_truth(start, obey_robots=False, max_depth=3)
    assert_crawl_matches(crawl, truth)
    assert "/site/hidden/1" in truth.fetched and "/site/page/8" not in truth.fetched
    assert set(server.stats()["per_path"]) == set(truth.fetched)
