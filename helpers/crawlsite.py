"""A deterministic little website for the capstone crawler, and the truth about it.

    from helpers import labserver, crawlsite
    server = labserver.start()
    start = f"{server.url}/site/"              # crawl from here
    truth = crawlsite.ground_truth(start)           # what a correct crawler fetches
    truth.fetched                              # {'/site/', '/site/about', ...}

The site is generated from a fixed seed, so every run serves the same bytes
(absolute links aside, which point at whichever host the request used).  It is
deliberately awkward: relative, absolute and protocol-relative links,
fragments, duplicate links, cycles, redirects (and a redirect loop), a 404, a
500, a slow page, non-HTML files, an oversized page, malformed HTML,
``mailto:``/``javascript:`` links, off-site links and a robots.txt that hides
a section.

The map (every other path under ``/site/`` is a 404 page):

    /site/                      home, depth 0
    /site/page/1 .. /page/48    a binary tree (page n links 2n and 2n+1) plus
                                back-links to lower numbers; depth 1 + floor(log2 n)
    /site/about, /contact       /contact holds mailto:, javascript:, tel: links
    /site/old-about, /old-news  301 to /site/about and /site/news (news: only this way)
    /site/loop-a <-> /loop-b    302 to each other
    /site/missing, /page/999    404;  /site/error  500
    /site/slow                  answers after SLOW_SECONDS
    /site/malformed             sloppy HTML that html.parser must survive
    /site/big                   3 MiB of HTML: fetched, never parsed
    /site/files/report.pdf, /site/data.json, /site/images/logo.png   not HTML
    /site/private/...           disallowed by /robots.txt; leads to /site/hidden/1..3
    /site/trap/...              linked only where a correct crawler does not look
    /robots.txt, /deny          served at the server root

What a correct crawler does -- the rules ``ground_truth`` implements:

* URLs are normalised by :func:`normalize`: resolve ``href`` against the URL
  of the page it was found on, drop the fragment, lowercase scheme and host,
  drop a default port (80 for http, 443 for https), and use ``/`` for an
  empty path.  Links whose scheme is not http or https (``mailto:``,
  ``javascript:``, ``tel:`` ...) are skipped.  Queries are kept (the site has
  none).
* Only ``<a href="...">`` elements are links (not ``<img src>``, not text in
  comments or scripts -- as :mod:`html.parser` sees them).
* In-site means the same scheme, host and port as the start URL; everything
  else is off-site: recorded, never fetched.
* With ``obey_robots=True`` the crawler fetches ``/robots.txt`` once (not
  counted in ``fetched``) and skips in-site URLs it disallows for
  ``User-agent: *``; they are recorded in ``disallowed``.
* Every in-site URL is requested exactly once, with redirects *not* followed
  automatically (``allow_redirects=False``): a 3xx answer's ``Location`` is
  resolved against the redirecting URL and treated like a newly found link.
* Links are extracted only from ``200`` responses whose media type is
  ``text/html`` and whose body is at most ``MAX_PAGE_BYTES`` long.  Error
  pages, non-HTML files and the oversized page are fetched but not parsed.
* Depth: the start URL has depth 0; a link found on a page of depth ``d`` has
  depth ``d + 1``; a redirect target has the depth of the redirecting URL.
  A URL's depth is the smallest over all ways of reaching it (breadth-first).
  With ``max_depth`` set, URLs deeper than ``max_depth`` are never fetched,
  and pages at exactly ``max_depth`` are fetched but not parsed.  (A
  concurrent crawler can discover a URL along a longer path first; with a
  depth limit it must crawl level by level or lower a URL's depth when a
  shorter path turns up, or it will disagree with this definition.)
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import random
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from aiohttp import web

__all__ = [
    "MAX_PAGE_BYTES",
    "SLOW_SECONDS",
    "ROBOTS_TXT",
    "CrawlTruth",
    "ground_truth",
    "normalize",
    "robots_allows",
    "handle",
    "ROUTES",
    "paths",
    "resource",
    "body",
]

SEED = 2024
PAGE_COUNT = 48  # /site/page/1 .. /site/page/48, a binary tree plus back-links
MAX_PAGE_BYTES = 1024 * 1024  # pages larger than this are fetched but not parsed
BIG_PAGE_BYTES = 3 * 1024 * 1024
SLOW_SECONDS = 1.0

ROBOTS_TXT = """\
# The lab server's robots.txt: a polite crawler skips these paths.
User-agent: *
Disallow: /deny
Disallow: /site/private/
"""
DISALLOWED_PREFIXES = ("/deny", "/site/private/")

# Paths the lab server should route to `handle` (patterns for aiohttp's router).
ROUTES = ("/robots.txt", "/deny", "/site", "/site/{tail:.*}")

_DEFAULT_PORTS = {"http": 80, "https": 443}


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Link:
    href: str  # exactly as written in <a href="...">; may hold {origin} or {host}
    text: str


@dataclass(frozen=True)
class Resource:
    """One URL of the site: what the server answers there.

    ``links`` are the links a parser extracts from the body (for raw bodies
    they are declared by hand and checked against html.parser in the tests).
    """

    status: int = 200
    content_type: str = "text/html"
    title: str = ""
    text: str = ""
    links: tuple[Link, ...] = ()
    extra_html: str = ""  # appended to a rendered page; never holds <a>
    raw: str | bytes | None = None  # the body as is, instead of a rendered page
    location: str | None = None  # Location header of a redirect
    delay: float = 0.0


_WORDS = (
    "loop task future await coroutine queue worker timeout cancel shield gather "
    "semaphore lock event socket stream buffer session connector retry backoff "
    "jitter deadline crawler robots sitemap cache page link depth frontier "
    "politeness throughput latency pool thread process signal callback"
).split()


def _prose(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _child_href(parent: int, child: int) -> str:
    # Mix the ways a link can be written, so that a crawler must really resolve them.
    if parent % 7 == 0 and child == 2 * parent:
        return f"HTTP://{{host}}/site/page/{child}"
    style = (parent + child) % 3
    if style == 0:
        return str(child)  # relative to /site/page/N
    if style == 1:
        return f"./{child}"
    return f"{{origin}}/site/page/{child}"  # absolute, built from the request's Host


_PAGE_SPECIALS: dict[int, tuple[Link, ...]] = {
    2: (Link("/site/loop-a", "A redirect loop"), Link("../files/report.pdf", "Report (PDF)")),
    3: (Link("/site/missing", "A page that is gone"), Link("/site/error", "A page that fails")),
    4: (Link("/site/old-news", "News (old address)"), Link("../malformed", "Sloppy markup")),
    5: (Link("/site/big", "A very long page"), Link("../images/logo.png", "The logo")),
    6: (Link("999", "A page that never existed"), Link("https://elsewhere.invalid/page/6", "Somewhere else")),
    7: (Link("/site/private/2", "Staff only"),),
    8: (Link("/site/slow", "A slow page"),),
    12: (Link("{origin}/site/data.json#records", "Data (JSON)"),),
}


def _numbered_page(n: int) -> Resource:
    rng = random.Random(SEED * 1000 + n)
    links = [Link("#top", "Back to top"), Link("/site/", "Home")]
    links.append(Link("../", "Up") if n == 1 else Link(str(n // 2), f"Up to page {n // 2}"))
    children = [c for c in (2 * n, 2 * n + 1) if c <= PAGE_COUNT]
    links += [Link(_child_href(n, c), f"Page {c}") for c in children]
    # Back-links only point to lower numbers: they make cycles without creating
    # shortcuts, so page N stays at depth 1 + floor(log2 N).
    for m in sorted(rng.sample(range(1, n), k=min(2, n - 1))):
        links.append(Link(f"/site/page/{m}#related", f"See also page {m}"))
    links += _PAGE_SPECIALS.get(n, ())
    if children:
        links.append(Link(_child_href(n, children[0]), "Next"))  # a duplicate on purpose
    title = f"Page {n}: {rng.choice(_WORDS)} and {rng.choice(_WORDS)}"
    return Resource(title=title, text=_prose(rng, 40), links=tuple(links))


def _page(title: str, *links: Link, text: str = "", **kwargs: Any) -> Resource:
    rng = random.Random(f"{SEED}:{title}")
    return Resource(title=title, text=text or _prose(rng, 30), links=links, **kwargs)


def _trap(name: str) -> Resource:
    # Linked only from places a correct crawler never parses.
    return _page(
        f"Trap: {name}",
        Link("/site/", "Home"),
        text="A correct crawler never gets here: the only link to this page "
        "is in a response it should not parse.",
    )


def _redirect(location: str, status: int = 301) -> Resource:
    return Resource(status=status, content_type="text/plain", location=location, raw=f"Moved to {location}\n")


_MALFORMED_HTML = """\
<html><head><title>Sloppy markup</title>
<body>
<h1>Sloppy markup<h1>
<p>An unclosed paragraph <b>bold <i>and italic</b></i>
<div><span>closed in the wrong order</div></span></p></p>
<p>Entities without semicolons: &amp &lt &copy 2024 &bogus; & alone</p>
<a href=/site/page/7>an unquoted attribute</a>
<A HREF="/site/page/8">an upper-case tag</A>
<a href='page/9' class=>single quotes and an empty attribute</a>
<a>an anchor without href</a>
<a href>an href without a value</a>
<!-- <a href="/site/trap/comment">commented out</a> -->
<script>document.write('<a href="/site/trap/script">written by a script</a>');</script>
<table><tr><td>one<td>two<tr><td>three</table>
<ul><li>unclosed item<li>another
<p>And the page ends <a href="/site/page/11">inside an anchor
"""
_MALFORMED_LINKS = (
    Link("/site/page/7", ""),
    Link("/site/page/8", ""),
    Link("page/9", ""),
    Link("/site/page/11", ""),
)

_ERROR_HTML = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>500 Internal Server Error</title></head>
<body><h1>Something broke</h1>
<p>Error pages are not parsed: <a href="/site/trap/error">a link on an error page</a>.</p>
</body></html>
"""
_NOT_FOUND_HTML = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>404 Not Found</title></head>
<body><h1>Not found</h1>
<p>Error pages are not parsed: <a href="/site/trap/notfound">a link on a 404 page</a>.</p>
</body></html>
"""
_NOT_FOUND = Resource(
    status=404, title="404 Not Found", raw=_NOT_FOUND_HTML, links=(Link("/site/trap/notfound", ""),)
)

_DENY_TEXT = """\
          .-''''-.
         /  STOP  \\
         \\        /     robots.txt asked you not to come here.
          '-....-'
"""


def _big_page() -> bytes:
    head = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>A very long page'
        "</title></head>\n<body><h1>A very long page</h1>\n<p>Too big to parse: "
        '<a href="/site/trap/big">a link in an oversized page</a> '
        '<a href="/site/">Home</a></p>\n'
    )
    rng = random.Random(f"{SEED}:big")
    paragraph = f"<p>{_prose(rng, 120)}</p>\n"
    repeats = (BIG_PAGE_BYTES - len(head)) // len(paragraph) + 1
    return (head + paragraph * repeats + "</body></html>\n").encode()


def _png() -> bytes:
    # An 8x8 two-colour PNG, built by hand so the site needs no image files.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    blue, yellow = b"\x00\x55\xaa", b"\xff\xd4\x3b"
    rows = b"".join(
        b"\x00" + b"".join(blue if (x + y) % 2 else yellow for x in range(8)) for y in range(8)
    )  # each row: filter byte 0, then RGB pixels
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


_PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


@functools.cache
def _site() -> Mapping[str, Resource]:
    """The whole site: path -> Resource.  Any other path under /site/ is a 404."""
    home_links = (
        Link("#top", "Top"),
        Link("about", "About"),
        Link("/site/about", "About us (again)"),
        Link("page/1", "Start reading"),
        Link("contact", "Contact"),
        Link("private/", "Staff area"),
        Link("old-about", "About (old address)"),
        Link("http://offsite.invalid/", "A friend's site"),
        Link("{origin}/site/", "This page, absolutely"),
    )
    pages: dict[str, Resource] = {
        "/site/": _page("Lab site", *home_links, extra_html='<p><img src="images/logo.png" alt="logo"></p>'),
        "/site/about": _page(
            "About",
            Link("/site/", "Home"),
            Link("/deny", "Robots only"),
            Link("https://elsewhere.invalid/", "Elsewhere"),
            Link("//cdn.invalid/lib.js", "A script on a CDN"),
        ),
        "/site/contact": _page(
            "Contact",
            Link("mailto:lab@example.invalid", "Mail us"),
            Link("javascript:void(0)", "Chat"),
            Link("tel:+10000000000", "Call us"),
            Link("HTTP://OFFSITE.invalid:80/", "A friend's site"),
            Link("./", "Home"),
            Link("", "This page"),
        ),
        "/site/news": _page("News", Link("/site/", "Home"), Link("page/3", "Page 3")),
        "/site/slow": _page("A slow page", Link("/site/", "Home"), delay=SLOW_SECONDS),
        "/site/malformed": Resource(title="Sloppy markup", raw=_MALFORMED_HTML, links=_MALFORMED_LINKS),
        "/site/big": Resource(
            title="A very long page", raw=_big_page(), links=(Link("/site/trap/big", ""), Link("/site/", ""))
        ),
        "/site/error": Resource(
            status=500, title="500", raw=_ERROR_HTML, links=(Link("/site/trap/error", ""),)
        ),
        "/site/files/report.pdf": Resource(content_type="application/pdf", raw=_PDF),
        "/site/images/logo.png": Resource(content_type="image/png", raw=_png()),
        "/site/data.json": Resource(
            content_type="application/json",
            raw=json.dumps(
                {
                    "site": "lab",
                    "pages": PAGE_COUNT,
                    "note": 'JSON is not parsed for links: <a href="/site/trap/json">not a link</a>',
                },
                indent=2,
            )
            + "\n",
        ),
        "/site": _redirect("/site/"),
        "/site/old-about": _redirect("/site/about"),
        "/site/old-news": _redirect("/site/news"),
        "/site/loop-a": _redirect("loop-b", status=302),  # relative Location, on purpose
        "/site/loop-b": _redirect("/site/loop-a", status=302),
        "/site/private/": _page(
            "Staff area", Link("/site/", "Home"), *(Link(str(k), f"Staff note {k}") for k in (1, 2, 3))
        ),
        "/robots.txt": Resource(content_type="text/plain", raw=ROBOTS_TXT),
        "/deny": Resource(content_type="text/plain", raw=_DENY_TEXT),
    }
    for n in range(1, PAGE_COUNT + 1):
        pages[f"/site/page/{n}"] = _numbered_page(n)
    for k in (1, 2, 3):
        pages[f"/site/private/{k}"] = _page(
            f"Staff note {k}", Link("./", "Staff area"), Link(f"../hidden/{k}", "The hidden page")
        )
        # Reachable only through the disallowed section: robots.txt changes the crawl.
        pages[f"/site/hidden/{k}"] = _page(
            f"Hidden page {k}", Link("/site/", "Home"), Link(f"/site/page/{5 * k}", f"Page {5 * k}")
        )
    for name in ("big", "json", "error", "notfound", "comment", "script"):
        pages[f"/site/trap/{name}"] = _trap(name)
    return MappingProxyType(pages)


def resource(path: str) -> Resource:
    """What the server answers at ``path`` (a 404 page for unknown paths)."""
    return _site().get(path, _NOT_FOUND)


def paths() -> list[str]:
    """Every path the site defines (for tests and curious readers)."""
    return sorted(_site())


# ----------------------------------------------------------------------- rendering


def _render_page(res: Resource, origin: str, host: str) -> str:
    items = "\n".join(
        f'<li><a href="{html.escape(link.href.format(origin=origin, host=host))}">'
        f"{html.escape(link.text)}</a></li>"
        for link in res.links
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(res.title)}</title></head>\n"
        f'<body id="top">\n<h1>{html.escape(res.title)}</h1>\n<p>{html.escape(res.text)}</p>\n'
        f"{res.extra_html}\n<ul>\n{items}\n</ul>\n</body></html>\n"
    )


def body(path: str, origin: str) -> bytes:
    """The exact bytes served at ``path`` when requested via ``origin`` (scheme://host[:port])."""
    res = resource(path)
    if res.raw is not None:
        return res.raw if isinstance(res.raw, bytes) else res.raw.encode()
    host = urlsplit(origin).netloc
    return _render_page(res, origin, host).encode()


async def handle(request: web.Request) -> web.Response:
    """aiohttp handler serving the site, ``/robots.txt`` and ``/deny`` (see ``ROUTES``)."""
    res = resource(request.path)
    if res.delay:
        await asyncio.sleep(res.delay)
    origin = f"{request.scheme}://{request.host}"
    charset = "utf-8" if res.content_type.startswith(("text/", "application/json")) else None
    response = web.Response(
        status=res.status, body=body(request.path, origin), content_type=res.content_type, charset=charset
    )
    if res.location is not None:
        response.headers["Location"] = res.location
    return response


# -------------------------------------------------------------------- ground truth


def normalize(href: str, base: str) -> str | None:
    """Resolve ``href`` found on page ``base``; None if it is not an http(s) URL.

    >>> normalize("../about#team", "http://127.0.0.1:8000/site/page/3")
    'http://127.0.0.1:8000/site/about'
    >>> normalize("HTTP://Example.invalid:80", "http://x/"), normalize("mailto:a@b", "http://x/")
    ('http://example.invalid/', None)
    """
    parts = urlsplit(urljoin(base, href.strip()))
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:  # e.g. "http://host:99999/"
        return None
    host = parts.hostname  # already lowercased by urlsplit
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def robots_allows(path: str) -> bool:
    """True if ``ROBOTS_TXT`` lets ``User-agent: *`` fetch ``path``."""
    return not path.startswith(DISALLOWED_PREFIXES)


@dataclass(frozen=True)
class CrawlTruth:
    """What a correct crawler of the site finds (paths are in-site, offsite are URLs).

    ``fetched`` is exactly ``pages | files | broken | set(redirects)``; each of
    these paths is requested once.  ``/robots.txt`` is not included.
    """

    start: str
    fetched: frozenset[str]
    pages: frozenset[str]  # 200 text/html (including the oversized one)
    files: frozenset[str]  # 200, not text/html
    broken: frozenset[str]  # 4xx and 5xx
    redirects: Mapping[str, str]  # 3xx: path -> target (a path, or a URL if off-site)
    offsite: frozenset[str]  # normalised off-site URLs found, never fetched
    disallowed: frozenset[str]  # in-site paths skipped because of robots.txt
    depth: Mapping[str, int] = field(default_factory=dict)  # fetched path -> depth


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _parsed(res: Resource, path: str) -> bool:
    return (
        res.status == 200
        and res.content_type == "text/html"
        and len(body(path, "http://x")) <= MAX_PAGE_BYTES
    )


def ground_truth(
    start: str = "/site/", *, obey_robots: bool = True, max_depth: int | None = None
) -> CrawlTruth:
    """The crawl a correct crawler makes from ``start`` (a path or a full URL).

    The rules are in this module's docstring.  Computed from the site's model,
    not by crawling, so it does not share code (or bugs) with a crawler.
    """
    start_url = normalize(start, "http://127.0.0.1/")
    if start_url is None:
        raise ValueError(f"start must be an http(s) URL or a path, got {start!r}")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(start_url))
    host = urlsplit(start_url).netloc

    # Dijkstra with 0/1 weights: a link costs 1, following a redirect costs 0.
    depth: dict[str, int] = {start_url: 0}
    frontier: list[tuple[int, str]] = [(0, start_url)]
    done: set[str] = set()
    fetched: dict[str, int] = {}  # path -> depth
    pages, files, broken, offsite, disallowed = set(), set(), set(), set(), set()
    redirects: dict[str, str] = {}

    def reach(url: str, d: int) -> None:
        if d < depth.get(url, d + 1):
            depth[url] = d
            frontier.append((d, url))

    while frontier:
        frontier.sort(reverse=True)  # tiny graph: a sorted list is a fine priority queue
        d, url = frontier.pop()
        if url in done:
            continue
        done.add(url)
        if not url.startswith(origin + "/"):
            offsite.add(url)
            continue
        path = _path_of(url)
        if obey_robots and not robots_allows(path):
            disallowed.add(path)
            continue
        fetched[path] = d
        res = resource(path)
        if res.location is not None:
            target = normalize(res.location, url)
            assert target is not None
            redirects[path] = _path_of(target) if target.startswith(origin + "/") else target
            reach(target, d)
        elif res.status >= 400:
            broken.add(path)
        elif res.content_type != "text/html":
            files.add(path)
        else:
            pages.add(path)
            if _parsed(res, path) and (max_depth is None or d < max_depth):
                for link in res.links:
                    target = normalize(link.href.format(origin=origin, host=host), url)
                    if target is not None:
                        reach(target, d + 1)

    return CrawlTruth(
        start=start_url,
        fetched=frozenset(fetched),
        pages=frozenset(pages),
        files=frozenset(files),
        broken=frozenset(broken),
        redirects=MappingProxyType(redirects),
        offsite=frozenset(offsite),
        disallowed=frozenset(disallowed),
        depth=MappingProxyType(fetched),
    )
