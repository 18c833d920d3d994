"""The rest of httpbin for the lab server: the endpoints tutorials use that it had no route for.

``helpers.labserver`` serves the httpbin endpoints the notebooks are built on
(``/get``, ``/post``, ``/anything``, ``/status``, ``/delay``, ``/bytes``, ...);
this module adds the others, with httpbin's status codes, headers and JSON
shapes, so a tutorial written against httpbin.org runs offline::

    /put /patch /delete                  echo the request, like /post
    /ip /user-agent                      request inspection
    /response-headers /cache /cache/{n} /etag/{etag}
    /xml /encoding/utf8 /gzip /deflate /brotli (501: needs a package the course does not ship)
    /base64/{value} /links/{n}[/{offset}] /range/{n} /stream/{n}
    /cookies /cookies/set[/{name}/{value}] /cookies/delete
    /basic-auth/{user}/{passwd} /hidden-basic-auth/{user}/{passwd} /bearer
    /relative-redirect/{n} /absolute-redirect/{n}
    /image /image/png /image/jpeg /image/svg /image/webp /forms/post

The lab server's rules still hold where httpbin is lenient: bad input (``/stream/abc``,
``/base64/!!``, a header that cannot be sent) gets a 4xx with a one-line reason
instead of httpbin's 404, 500 or apology page.  ``ROUTES`` is registered by
``labserver``'s app factory, so these requests are counted and recorded like
all the others.  ``tests/test_httpbin_parity.py`` compares every route with
the real httpbin side by side.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import re
import uuid
import zlib
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http.cookies import CookieError
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from . import crawlsite
from .labserver import (
    MAX_DELAY,
    MAX_REDIRECTS,
    NOT_ACCEPTABLE,
    _args,
    _bad,
    _echo,
    _echo_with_body,
    _headers,
    _integer,
    _origin,
    _query_integer,
    _query_number,
    _status_response,
)

__all__ = ["ROUTES"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_STREAM_LINES = 100  # /stream/{n}: more is answered with 100 lines, as httpbin does
MAX_RANGE_BYTES = 100 * 1024  # /range/{n}: httpbin's limit, beyond it a 404
MAX_LINKS = 200  # /links/{n}: clamped to 1..200, as httpbin does
MAX_NUMBER = 2**31 - 1  # the largest path number accepted before clamping

# Cookies httpbin hides from /cookies unless ``?show_env`` is given (analytics of httpbin.org).
_ENV_COOKIES = frozenset(
    "_gauges_unique _gauges_unique_year _gauges_unique_month _gauges_unique_day "
    "_gauges_unique_hour __utmz __utma __utmb".split()
)


# ----------------------------------------------------------------- echo


async def _handle_echo_body(request: web.Request) -> web.Response:
    """``/put``, ``/patch``, ``/delete``: the same echo as ``/post``."""
    return web.json_response(await _echo_with_body(request))


async def _handle_ip(request: web.Request) -> web.Response:
    return web.json_response({"origin": _origin(request)})


async def _handle_user_agent(request: web.Request) -> web.Response:
    return web.json_response({"user-agent": request.headers.get("User-Agent")})


# ----------------------------------------------------- response inspection

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110)
_FIXED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


def _header_pairs(request: web.Request) -> list[tuple[str, str]]:
    pairs = list(request.query.items())
    for name, value in pairs:
        if not _TOKEN.fullmatch(name):
            raise _bad(f"/response-headers: {name!r} is not a valid header name")
        if name.lower() in _FIXED_HEADERS:
            raise _bad(f"/response-headers: the server sets {name} itself")
        if any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in value):
            raise _bad(f"/response-headers: the value of {name} contains a control character")
    return pairs


async def _handle_response_headers(request: web.Request) -> web.Response:
    """Answer with the headers the query names, and list every header in the JSON body.

    Like httpbin, the body names its own Content-Length, so it is computed until it settles.
    """
    pairs = _header_pairs(request)
    headers = CIMultiDict([("Content-Type", "application/json"), *pairs])
    listed: dict[str, Any] = {}
    body = b""
    for _ in range(10):  # settles after two or three rounds
        listed = {name: vals[0] if len(vals) == 1 else vals for name, vals in _grouped(headers).items()}
        listed["Content-Length"] = str(len(body))
        new_body = _pretty_json(listed)
        if new_body == body:
            break
        body = new_body
    return web.Response(body=body, headers=headers)


def _grouped(headers: CIMultiDict[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers.items():
        grouped.setdefault(name, []).append(value)
    return grouped


def _pretty_json(data: Any) -> bytes:
    # httpbin's layout (indented, sorted, a final newline); it matters where a body names its own length.
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _get_response(request: web.Request, **headers: str) -> web.Response:
    """What ``/get`` answers, with extra headers."""
    return web.json_response(_echo(request), headers=headers)


async def _handle_cache(request: web.Request) -> web.Response:
    if request.headers.get("If-Modified-Since") or request.headers.get("If-None-Match"):
        return _status_response(304)
    return _get_response(request, **{"Last-Modified": formatdate(usegmt=True), "ETag": uuid.uuid4().hex})


async def _handle_cache_control(request: web.Request) -> web.Response:
    seconds = _integer(request.match_info["n"], "/cache/{n}", 0, MAX_NUMBER)
    return _get_response(request, **{"Cache-Control": f"public, max-age={seconds}"})


def _etags(header: str | None) -> list[str]:
    # httpbin's reading of If-None-Match / If-Match: a comma-separated list, W/ and quotes dropped.
    tags = []
    for part in (header or "").split(","):
        match = re.search(r'\s*(W/)?"?([^"]*)"?\s*', part)
        if match is not None:
            tags.append(match.group(2))
    return tags if header else []


async def _handle_etag(request: web.Request) -> web.Response:
    etag = request.match_info["etag"]
    if_none_match = _etags(request.headers.get("If-None-Match"))
    if_match = _etags(request.headers.get("If-Match"))
    if if_none_match:
        if etag in if_none_match or "*" in if_none_match:
            response = _status_response(304)
            response.headers["ETag"] = etag
            return response
    elif if_match and etag not in if_match and "*" not in if_match:
        return _status_response(412)
    return _get_response(request, ETag=etag)


# -------------------------------------------------------- response formats

_XML = """\
<?xml version='1.0' encoding='us-ascii'?>

<!--  A SAMPLE set of slides, the same as /json  -->

<slideshow title="Waiting without blocking" date="Every day" author="The asyncio lab">
    <slide type="all">
      <title>One loop, many tasks</title>
    </slide>
    <slide type="all">
        <title>Why await?</title>
        <item>It hands control back to the loop</item>
        <item>Blocking calls never do</item>
    </slide>
</slideshow>
"""

_UTF8_DEMO = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>UTF-8 demo</title></head><body><pre>
UTF-8 encoded sample text

English:      The event loop waits without blocking.
Deutsch:      Die Ereignisschleife wartet, ohne zu blockieren. Grüße!
Français:     La boucle d'événements attend sans bloquer. Déjà vu.
Ελληνικά:     Ο βρόχος συμβάντων περιμένει χωρίς να μπλοκάρει.
Русский:      Цикл событий ждёт, не блокируя.
日本語:       イベントループはブロックせずに待ちます。
中文:         事件循环在等待时不会阻塞。
Mathematics:  ∀x ∈ ℝ: ⌈x⌉ = −⌊−x⌋,  ∑ 1/n² = π²/6
Arrows:       ← ↑ → ↓ ⇒ ⇔
Emoji:        🐍 ⏳ ✅
</pre></body></html>
"""

_FORM = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Order a pizza</title></head>
<body>
<form method="post" action="/post">
  <p><label>Customer name: <input name="custname"></label></p>
  <p><label>Telephone: <input type=tel name="custtel"></label></p>
  <p><label>E-mail address: <input type=email name="custemail"></label></p>
  <fieldset><legend>Pizza Size</legend>
    <p><label><input type=radio name=size value="small"> Small</label></p>
    <p><label><input type=radio name=size value="medium"> Medium</label></p>
    <p><label><input type=radio name=size value="large"> Large</label></p>
  </fieldset>
  <fieldset><legend>Pizza Toppings</legend>
    <p><label><input type=checkbox name="topping" value="bacon"> Bacon</label></p>
    <p><label><input type=checkbox name="topping" value="cheese"> Extra Cheese</label></p>
    <p><label><input type=checkbox name="topping" value="onion"> Onion</label></p>
    <p><label><input type=checkbox name="topping" value="mushroom"> Mushroom</label></p>
  </fieldset>
  <p><label>Preferred delivery time: <input type=time min="11:00" max="21:00" step="900" name="delivery"></label></p>
  <p><label>Delivery instructions: <textarea name="comments"></textarea></label></p>
  <p><button>Submit order</button></p>
</form>
</body></html>
"""


async def _handle_xml(request: web.Request) -> web.Response:
    return web.Response(text=_XML, content_type="application/xml")


async def _handle_utf8(request: web.Request) -> web.Response:
    return web.Response(text=_UTF8_DEMO, content_type="text/html")


async def _handle_forms_post(request: web.Request) -> web.Response:
    return web.Response(text=_FORM, content_type="text/html")


def _encoded_echo(request: web.Request, flag: str) -> bytes:
    data = {"headers": _headers(request), "method": request.method, "origin": _origin(request), flag: True}
    return _pretty_json(data)


async def _handle_gzip(request: web.Request) -> web.Response:
    body = gzip.compress(_encoded_echo(request, "gzipped"), compresslevel=4)
    return web.Response(body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})


async def _handle_deflate(request: web.Request) -> web.Response:
    body = zlib.compress(_encoded_echo(request, "deflated"))  # zlib-wrapped, as httpbin (and browsers) do
    return web.Response(
        body=body, headers={"Content-Type": "application/json", "Content-Encoding": "deflate"}
    )


async def _handle_brotli(request: web.Request) -> web.Response:
    # Brotli needs a compiled package the course does not depend on; say so instead of a 404.
    raise web.HTTPNotImplemented(
        text="501: /brotli is not available in the lab server; try /gzip or /deflate"
    )


# ------------------------------------------------------------ dynamic data


async def _handle_base64(request: web.Request) -> web.Response:
    value = request.match_info["value"]
    try:
        # validate=True: characters outside the alphabet are an error, not silently dropped.
        decoded = base64.b64decode(value.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        # httpbin answers 200 with an apology; the lab server's rule is a 4xx with a reason.
        raise _bad(f"/base64/{{value}} must be URL-safe base64 of UTF-8 text, got {value!r}") from None
    return web.Response(text=decoded, content_type="text/html")


async def _handle_links_redirect(request: web.Request) -> web.Response:
    n = _integer(request.match_info["n"], "/links/{n}", 0, MAX_NUMBER)
    raise web.HTTPFound(f"/links/{n}/0")


async def _handle_links(request: web.Request) -> web.Response:
    n = min(max(1, _integer(request.match_info["n"], "/links/{n}", 0, MAX_NUMBER)), MAX_LINKS)
    offset = _integer(request.match_info["offset"], "/links/{n}/{offset}", 0, MAX_NUMBER)
    parts = ["<html><head><title>Links</title></head><body>"]
    for i in range(n):
        parts.append(f"{i} " if i == offset else f"<a href='/links/{n}/{i}'>{i}</a> ")
    parts.append("</body></html>")
    return web.Response(text="".join(parts), content_type="text/html")


def _byte_range(header: str | None, size: int) -> tuple[int, int]:
    """httpbin's lenient reading of ``Range: bytes=first-last``; anything odd means all of it."""
    first: int | None = None
    last: int | None = None
    if header and header.strip().startswith("bytes"):
        spec = header.strip().split("=")
        if len(spec) == 2:
            bounds = spec[1].split("-")
            first = _int_or_none(bounds[0])
            last = _int_or_none(bounds[1]) if len(bounds) > 1 else None
    if first is None and last is None:
        return 0, size - 1
    if first is None:
        assert last is not None
        return max(0, size - last), size - 1  # the last `last` bytes
    return first, size - 1 if last is None else last


def _int_or_none(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


async def _handle_range(request: web.Request) -> web.StreamResponse:
    size = _integer(request.match_info["n"], "/range/{n}", -MAX_NUMBER, MAX_NUMBER)
    headers = {"ETag": f"range{size}", "Accept-Ranges": "bytes"}
    if not 0 < size <= MAX_RANGE_BYTES:  # httpbin's status for this case
        raise web.HTTPNotFound(
            text=f"404: number of bytes must be in the range (0, {MAX_RANGE_BYTES}]", headers=headers
        )
    chunk_size = _query_integer(request, "chunk_size", 10 * 1024, 1, 1024 * 1024)
    duration = _query_number(request, "duration", 0.0, 0, MAX_DELAY)
    first, last = _byte_range(request.headers.get("Range"), size)
    if not 0 <= first <= last < size:
        raise web.HTTPRequestRangeNotSatisfiable(headers={**headers, "Content-Range": f"bytes */{size}"})
    # The same bytes every time (a-z repeating), so ranges of one resource fit together.
    data = bytes(ord("a") + i % 26 for i in range(first, last + 1))
    response = web.StreamResponse(
        status=200 if (first, last) == (0, size - 1) else 206,
        headers={
            **headers,
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {first}-{last}/{size}",
        },
    )
    response.content_length = len(data)
    await response.prepare(request)
    if request.method == "HEAD":  # a StreamResponse would send the body regardless
        return response
    for offset in range(0, len(data), chunk_size):
        piece = data[offset : offset + chunk_size]
        await asyncio.sleep(duration * len(piece) / size)
        await response.write(piece)
    await response.write_eof()
    return response


async def _handle_stream(request: web.Request) -> web.StreamResponse:
    """``n`` lines of JSON (at most 100), each the ``/get`` echo plus its ``id``."""
    n = min(_integer(request.match_info["n"], "/stream/{n}", 0, MAX_NUMBER), MAX_STREAM_LINES)
    echo: dict[str, Any] = {"url": str(request.url), "args": _args(request), "headers": _headers(request)}
    echo["origin"] = _origin(request)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    if request.method == "HEAD":  # a StreamResponse would send the body regardless
        return response
    for i in range(n):
        await response.write((json.dumps({**echo, "id": i}) + "\n").encode())
    await response.write_eof()
    return response


# ------------------------------------------------------------------ cookies


async def _handle_cookies(request: web.Request) -> web.Response:
    show_env = "show_env" in request.query
    cookies = {k: v for k, v in request.cookies.items() if show_env or k not in _ENV_COOKIES}
    return web.json_response({"cookies": cookies})


def _to_cookies(changes: list[tuple[str, str | None]]) -> web.Response:
    """A 302 to ``/cookies`` that sets (value) or deletes (None) each cookie, path ``/``."""
    response = web.Response(status=302, headers={"Location": "/cookies"}, text="302: see /cookies\n")
    try:
        for name, value in changes:
            if value is None:
                response.del_cookie(name, path="/")
            else:
                response.set_cookie(name, value, path="/")
    except CookieError as exc:
        raise _bad(f"not a valid cookie: {exc}") from None
    return response


async def _handle_cookies_set(request: web.Request) -> web.Response:
    return _to_cookies([(name, request.query[name]) for name in dict.fromkeys(request.query)])


async def _handle_cookies_set_one(request: web.Request) -> web.Response:
    return _to_cookies([(request.match_info["name"], request.match_info["value"])])


async def _handle_cookies_delete(request: web.Request) -> web.Response:
    return _to_cookies([(name, None) for name in dict.fromkeys(request.query)])


# --------------------------------------------------------------------- auth


def _basic_auth_ok(request: web.Request) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        credentials = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError):  # not base64 or not UTF-8: no credentials, as in httpbin
        return False
    user, colon, passwd = credentials.partition(":")
    return bool(colon) and (user, passwd) == (request.match_info["user"], request.match_info["passwd"])


def _authenticated(request: web.Request) -> web.Response:
    return web.json_response({"authenticated": True, "user": request.match_info["user"]})


async def _handle_basic_auth(request: web.Request) -> web.Response:
    return _authenticated(request) if _basic_auth_ok(request) else _status_response(401)


async def _handle_hidden_basic_auth(request: web.Request) -> web.Response:
    return _authenticated(request) if _basic_auth_ok(request) else _status_response(404)


async def _handle_bearer(request: web.Request) -> web.Response:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"}, text="401\n")
    return web.json_response({"authenticated": True, "token": header.removeprefix("Bearer ")})


# ---------------------------------------------------------------- redirects


def _redirect_count(request: web.Request, what: str) -> int:
    return _integer(request.match_info["n"], what, 1, MAX_REDIRECTS)


async def _handle_relative_redirect(request: web.Request) -> web.Response:
    n = _redirect_count(request, "/relative-redirect/{n}")
    location = "/get" if n == 1 else f"/relative-redirect/{n - 1}"
    return web.Response(status=302, headers={"Location": location})


async def _handle_absolute_redirect(request: web.Request) -> web.Response:
    n = _redirect_count(request, "/absolute-redirect/{n}")
    base = f"{request.scheme}://{request.host}"
    raise web.HTTPFound(f"{base}/get" if n == 1 else f"{base}/absolute-redirect/{n - 1}")


# ------------------------------------------------------------------- images

# 8x8 checkerboards in the crawl site's colours, generated once with Pillow and kept as constants.
_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQaFRER"
    "GCEYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
    "Hh4eHh4eHh4eHh4eHh4eHh4eHh7/wAARCAAIAAgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcI"
    "CQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRol"
    "JicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ip"
    "qrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAA"
    "AAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLR"
    "ChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaX"
    "mJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEA"
    "PwDQ/wBZ/wBNPM/4Hv3f997s+b/003ed/wAtfO/08ooryTjP/9k="
)
_WEBP = base64.b64decode("UklGRiQAAABXRUJQVlA4TBcAAAAvB8ABAA/wqr/5f6Tq/AcPXqUa0f9QBQA=")
_SVG = b"""\
<svg xmlns="http://www.w3.org/2000/svg" width="80" height="80" viewBox="0 0 8 8">
  <rect width="8" height="8" fill="#ffd43b"/>
  <path fill="#0055aa" d="M1 0h1v1h-1zM3 0h1v1h-1zM5 0h1v1h-1zM7 0h1v1h-1zM0 1h1v1h-1zM2 1h1v1h-1zM4 1h1v1h-1zM6 1h1v1h-1z
    M1 2h1v1h-1zM3 2h1v1h-1zM5 2h1v1h-1zM7 2h1v1h-1zM0 3h1v1h-1zM2 3h1v1h-1zM4 3h1v1h-1zM6 3h1v1h-1z
    M1 4h1v1h-1zM3 4h1v1h-1zM5 4h1v1h-1zM7 4h1v1h-1zM0 5h1v1h-1zM2 5h1v1h-1zM4 5h1v1h-1zM6 5h1v1h-1z
    M1 6h1v1h-1zM3 6h1v1h-1zM5 6h1v1h-1zM7 6h1v1h-1zM0 7h1v1h-1zM2 7h1v1h-1zM4 7h1v1h-1zM6 7h1v1h-1z"/>
</svg>
"""


def _png() -> bytes:
    raw = crawlsite.resource("/site/images/logo.png").raw  # the crawl site's logo
    assert isinstance(raw, bytes)
    return raw


IMAGES: dict[str, tuple[str, bytes]] = {  # /image/{kind} -> (content type, bytes)
    "png": ("image/png", _png()),
    "jpeg": ("image/jpeg", _JPEG),
    "svg": ("image/svg+xml", _SVG),
    "webp": ("image/webp", _WEBP),
}


def _image(kind: str) -> web.Response:
    content_type, data = IMAGES[kind]
    return web.Response(body=data, content_type=content_type)


def _image_handler(kind: str) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return _image(kind)

    handle.__name__ = f"_handle_image_{kind}"
    return handle


async def _handle_image(request: web.Request) -> web.Response:
    """An image in the first type the Accept header allows, in httpbin's order of preference."""
    accept = request.headers.get("Accept")
    if accept is None:
        return _image("png")
    accept = accept.lower()
    for needle, kind in [("image/webp", "webp"), ("image/svg+xml", "svg"), ("image/jpeg", "jpeg")]:
        if needle in accept:
            return _image(kind)
    if "image/png" in accept or "image/*" in accept:
        return _image("png")
    return web.json_response(NOT_ACCEPTABLE, status=406)


# ------------------------------------------------------------------ routes

# (method, path, handler); "GET" routes answer HEAD too.
ROUTES: list[tuple[str, str, Handler]] = [
    ("PUT", "/put", _handle_echo_body),
    ("PATCH", "/patch", _handle_echo_body),
    ("DELETE", "/delete", _handle_echo_body),
    ("GET", "/ip", _handle_ip),
    ("GET", "/user-agent", _handle_user_agent),
    ("GET", "/response-headers", _handle_response_headers),
    ("POST", "/response-headers", _handle_response_headers),
    ("GET", "/cache", _handle_cache),
    ("GET", "/cache/{n}", _handle_cache_control),
    ("GET", "/etag/{etag}", _handle_etag),
    ("GET", "/xml", _handle_xml),
    ("GET", "/encoding/utf8", _handle_utf8),
    ("GET", "/forms/post", _handle_forms_post),
    ("GET", "/gzip", _handle_gzip),
    ("GET", "/deflate", _handle_deflate),
    ("GET", "/brotli", _handle_brotli),
    ("GET", "/base64/{value}", _handle_base64),
    ("GET", "/links/{n}", _handle_links_redirect),
    ("GET", "/links/{n}/{offset}", _handle_links),
    ("GET", "/range/{n}", _handle_range),
    ("GET", "/stream/{n}", _handle_stream),
    ("GET", "/cookies", _handle_cookies),
    ("GET", "/cookies/set", _handle_cookies_set),
    ("GET", "/cookies/set/{name}/{value}", _handle_cookies_set_one),
    ("GET", "/cookies/delete", _handle_cookies_delete),
    ("GET", "/basic-auth/{user}/{passwd}", _handle_basic_auth),
    ("GET", "/hidden-basic-auth/{user}/{passwd}", _handle_hidden_basic_auth),
    ("GET", "/bearer", _handle_bearer),
    ("GET", "/relative-redirect/{n}", _handle_relative_redirect),
    ("GET", "/absolute-redirect/{n}", _handle_absolute_redirect),
    ("GET", "/image", _handle_image),
    *(("GET", f"/image/{kind}", _image_handler(kind)) for kind in IMAGES),
]
