"""The lab server: endpoints, bad input, fault injection, statistics, lifecycle.

Timing assertions use wide margins (a 0.3 s delay must take 0.3 s to 3 s);
concurrency assertions wait for the server's own statistics instead of
sleeping and hoping.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from helpers import labserver

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    server: labserver.LabServer,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> Reply:
    """One plain request; redirects are not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def fresh(server: labserver.LabServer) -> labserver.LabServer:
    wait_until(lambda: server.stats()["in_flight"] == 0)  # leftovers of earlier tests
    server.reset()
    return server


# ------------------------------------------------------------------ lifecycle


def test_start_listens_on_loopback_with_a_free_port_and_a_plain_url(server):
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert call(server, "/get").status == 200


def test_start_refuses_to_bind_beyond_loopback():
    with pytest.raises(ValueError, match="loopback"):
        labserver.start(host="0.0.0.0")


def test_start_on_a_port_in_use_raises_oserror(server):
    with pytest.raises(OSError):
        labserver.start(server.port)


def test_context_manager_stops_the_server():
    with labserver.start() as srv:
        assert call(srv, "/get").status == 200
    with pytest.raises(OSError):
        call(srv, "/get", timeout=2)


def test_stop_returns_quickly_with_a_hang_open_and_twice():
    srv = labserver.start()
    errors: list[BaseException] = []

    def hang() -> None:
        try:
            call(srv, "/hang", timeout=30)
        except BaseException as exc:  # noqa: BLE001 - the server closes the connection on us
            errors.append(exc)

    client = threading.Thread(target=hang)
    client.start()
    wait_until(lambda: srv.stats()["in_flight"] == 1)
    started = time.perf_counter()
    srv.stop()
    assert time.perf_counter() - started < 2.0
    srv.stop()  # idempotent
    client.join(timeout=5)
    assert not client.is_alive() and errors


def test_server_keeps_answering_while_the_callers_event_loop_is_blocked(server):
    answered: list[int] = []

    def fetch() -> None:
        answered.append(call(server, "/delay/0.1").status)

    async def blocking_cell() -> None:
        client = threading.Thread(target=fetch)
        client.start()
        time.sleep(1.0)  # the mistake notebook 01 demonstrates: blocks this loop
        assert not client.is_alive(), "the server was frozen by the caller's blocked loop"
        client.join()

    asyncio.run(blocking_cell())
    assert answered == [200]


def test_main_prints_the_url_once_and_stops_on_ctrl_c():
    if sys.platform == "win32":
        pytest.skip("SIGINT delivery differs on Windows")
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers", "labserver", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A child inherits "ignore SIGINT" from some shells; restore Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out == "" and "Traceback" not in err


# ----------------------------------------------------------- httpbin-style


def test_get_echoes_args_headers_origin_and_url_like_httpbin(server):
    reply = call(server, "/get?a=1&a=2&b=3", headers={"X-Demo": "yes"})
    data = reply.json()
    assert reply.status == 200
    assert data["args"] == {"a": ["1", "2"], "b": "3"}
    assert data["headers"]["X-Demo"] == "yes"
    assert data["origin"] == "127.0.0.1"
    assert data["url"] == f"{server.url}/get?a=1&a=2&b=3"


@pytest.mark.parametrize(
    "path, content_type, check",
    [
        ("/json", "application/json", lambda r: "slideshow" in r.json()),
        ("/uuid", "application/json", lambda r: len(r.json()["uuid"]) == 36),
        ("/headers", "application/json", lambda r: "Host" in r.json()["headers"]),
        ("/html", "text/html", lambda r: "<h1>" in r.text),
        ("/robots.txt", "text/plain", lambda r: "Disallow: /site/private/" in r.text),
        ("/deny", "text/plain", lambda r: "robots.txt" in r.text),
        ("/", "text/plain", lambda r: "/flaky/{key}" in r.text),
    ],
)
def test_simple_endpoints_answer_with_their_content(server, path, content_type, check):
    reply = call(server, path)
    assert reply.status == 200
    assert reply.headers.get_content_type() == content_type
    assert check(reply)


def test_uuid_is_new_every_time(server):
    assert call(server, "/uuid").json() != call(server, "/uuid").json()


def test_post_echoes_a_json_body(server):
    reply = call(server, "/post", "POST", b'{"n": 1}', {"Content-Type": "application/json"})
    assert reply.status == 200
    assert reply.json()["json"] == {"n": 1}


def test_post_echoes_a_form_body(server):
    reply = call(server, "/post", "POST", b"a=1&b=two", {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.json()["form"] == {"a": "1", "b": "two"}


def test_post_echoes_a_multipart_body_with_a_file(server):
    async def upload() -> dict:
        form = aiohttp.FormData()
        form.add_field("name", "lab")
        form.add_field("notes", b"hello", filename="notes.txt")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{server.url}/post", data=form) as resp:
                assert resp.status == 200
                return await resp.json()

    data = asyncio.run(upload())
    assert data["form"] == {"name": "lab"} and data["files"] == {"notes": "hello"}


def test_anything_echoes_any_method_and_path(server):
    data = call(server, "/anything/deep/path?x=1", "PUT", b"raw").json()
    assert data["method"] == "PUT"
    assert data["data"] == "raw"
    assert data["args"] == {"x": "1"}
    assert data["url"].endswith("/anything/deep/path?x=1")


def test_get_only_endpoints_also_answer_head(server):
    assert call(server, "/get", "HEAD").status == 200


# --------------------------------------------------------- timing and bytes


def test_delay_waits_about_the_requested_time(server):
    started = time.perf_counter()
    reply = call(server, "/delay/0.3")
    elapsed = time.perf_counter() - started
    assert reply.status == 200 and "args" in reply.json()
    assert 0.3 <= elapsed < 3


def test_delay_accepts_fractions_and_zero(server):
    assert call(server, "/delay/0").status == 200
    assert call(server, "/delay/0.05").status == 200


def test_status_answers_the_code_given(server):
    for code in (200, 201, 404, 418, 500, 503):
        assert call(server, f"/status/{code}").status == code


def test_status_without_body_and_redirects_to_get(server):
    assert call(server, "/status/204").body == b""
    reply = call(server, "/status/302")
    assert reply.status == 302 and reply.headers["Location"] == "/get"


def test_status_list_is_answered_in_order_cycling_per_distinct_list(fresh):
    first = [call(fresh, "/status/503,200").status for _ in range(5)]
    other = [call(fresh, "/status/500,502,200").status for _ in range(4)]
    assert first == [503, 200, 503, 200, 503]
    assert other == [500, 502, 200, 500]


def test_bytes_are_seeded_and_the_same_every_time(server):
    a, b = call(server, "/bytes/1000"), call(server, "/bytes/1000")
    c = call(server, "/bytes/1000?seed=7")
    assert a.status == 200 and len(a.body) == 1000
    assert a.body == b.body != c.body
    assert a.headers.get_content_type() == "application/octet-stream"


def test_bytes_accepts_the_upper_bound(server):
    assert len(call(server, f"/bytes/{labserver.MAX_BYTES}").body) == labserver.MAX_BYTES


def test_stream_bytes_are_chunked_and_equal_to_bytes(server):
    streamed = call(server, "/stream-bytes/5000?seed=3&chunk_size=1000")
    assert streamed.headers["Transfer-Encoding"] == "chunked"
    assert streamed.body == call(server, "/bytes/5000?seed=3").body


def test_drip_sends_numbytes_spread_over_duration(server):
    started = time.perf_counter()
    reply = call(server, "/drip?numbytes=5&duration=0.3&delay=0.1")
    assert reply.body == b"*****"
    assert 0.4 <= time.perf_counter() - started < 4


def test_slow_body_sends_headers_first_and_the_body_after_the_delay(server):
    async def go() -> tuple[float, float, int]:
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            async with session.get(f"{server.url}/slow-body/100?delay=0.3") as resp:
                headers_at = time.perf_counter() - started
                body = await resp.read()
                return headers_at, time.perf_counter() - started, len(body)

    headers_at, body_at, size = asyncio.run(go())
    assert size == 100
    assert headers_at < 0.3 <= body_at < 3


def test_truncated_promises_n_bytes_and_drops_the_connection_after_some(server):
    async def go(path: str) -> tuple[int, int]:
        received = 0
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}{path}") as resp:
                try:
                    async for chunk in resp.content.iter_chunked(64 * 1024):
                        received += len(chunk)
                except aiohttp.ClientPayloadError:
                    return received, resp.content_length
        raise AssertionError(f"{path}: the whole body arrived ({received} bytes)")

    assert asyncio.run(go("/truncated/100000")) == (50_000, 100_000)
    assert asyncio.run(go("/truncated/100000?after=0")) == (0, 100_000)
    assert call(server, "/get").status == 200  # the server goes on serving


def test_redirect_chain_ends_at_get(server):
    hops = ["/redirect/3"]
    while (reply := call(server, hops[-1])).status == 302:
        hops.append(reply.headers["Location"])
    assert hops == ["/redirect/3", "/redirect/2", "/redirect/1", "/get"]
    assert reply.status == 200


def test_redirect_to_accepts_only_paths_on_this_server(server):
    reply = call(server, "/redirect-to?url=/get&status_code=307")
    assert reply.status == 307 and reply.headers["Location"] == "/get"
    for url in ("http://example.com/", "//example.com/", "example.com", ""):
        assert call(server, f"/redirect-to?url={url}").status == 400


# --------------------------------------------------------------- bad input


BAD_INPUTS = [
    "/delay/abc",
    "/delay/-1",
    "/delay/99",
    "/delay/nan",
    "/delay/inf",
    "/bytes/-5",
    "/bytes/huge",
    f"/bytes/{labserver.MAX_BYTES + 1}",
    "/stream-bytes/-1",
    "/stream-bytes/10?chunk_size=0",
    "/status/abc",
    "/status/999",
    "/status/100",
    "/status/200,x",
    "/status/",
    "/flaky/x?fail=abc",
    "/flaky/x?fail=-1",
    "/sequence/x?codes=abc",
    "/sequence/x?codes=503&retry_after=soon",
    "/ratelimit/x?limit=0",
    "/ratelimit/x?window=abc",
    "/unreliable/x?p=2",
    "/unreliable/x?seed=-1",
    "/drip?numbytes=abc",
    "/drip?duration=-1",
    "/slow-body/abc",
    "/truncated/0",
    "/truncated/10?after=10",
    "/truncated/10?after=-1",
    "/redirect/0",
    "/redirect/21",
    "/redirect/abc",
    "/redirect-to",
    "/payments?fail=abc",
    "/no/such/path",
    "/get/extra",
    f"/flaky/{'k' * 201}",
]


@pytest.mark.parametrize("path", BAD_INPUTS)
def test_bad_input_gets_a_4xx_with_a_reason(server, path):
    method = "POST" if path.startswith("/payments") else "GET"
    reply = call(server, path, method)
    assert reply.status in (400, 404), reply.text
    assert reply.text.startswith(f"{reply.status}: ") and len(reply.text) > 8


def test_bad_input_never_reaches_the_catch_all(fresh, caplog):
    with caplog.at_level(logging.ERROR, logger="helpers.labserver"):
        for path in BAD_INPUTS:
            call(fresh, path, "POST" if path.startswith("/payments") else "GET")
    statuses = fresh.stats()["status_counts"]
    assert set(statuses) <= {400, 404}
    assert not caplog.records


def test_a_wrong_method_gets_405(server):
    assert call(server, "/get", "DELETE").status == 405


def test_payment_body_that_is_not_json_gets_400(server):
    reply = call(server, "/payments", "POST", b"{not json", {"Content-Type": "application/json"})
    assert reply.status == 400 and "JSON" in reply.text


def test_an_unexpected_exception_becomes_a_500_with_the_reason(monkeypatch, caplog):
    async def broken(request):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(labserver, "_handle_uuid", broken)
    with caplog.at_level(logging.ERROR, logger="helpers.labserver"), labserver.start() as srv:
        reply = call(srv, "/uuid")
        assert srv.stats()["status_counts"] == {500: 1}
    assert reply.status == 500
    assert "RuntimeError: kaboom" in reply.text
    assert any("/uuid" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------- fault injection


def test_flaky_fails_the_first_n_calls_per_key(server):
    codes = [call(server, "/flaky/flaky-a?fail=2").status for _ in range(4)]
    assert codes == [503, 503, 200, 200]
    assert call(server, "/flaky/flaky-a?fail=2").json()["attempt"] == 5
    assert call(server, "/flaky/flaky-b?fail=2").status == 503  # its own count


def test_sequence_answers_in_order_then_repeats_the_last(server):
    codes = [call(server, "/sequence/seq-a?codes=503,503,200").status for _ in range(5)]
    assert codes == [503, 503, 200, 200, 200]


def test_sequence_sends_retry_after_on_429_and_503_only_when_asked(server):
    path = "/sequence/seq-b?codes=429,503,500,200&retry_after=0.5"
    replies = [call(server, path) for _ in range(4)]
    assert [r.headers.get("Retry-After") for r in replies] == ["0.5", "0.5", None, None]
    assert call(server, "/sequence/seq-c?codes=503").headers.get("Retry-After") is None


def test_sequence_hang_step_makes_the_client_time_out_then_moves_on(server):
    with pytest.raises(TimeoutError):
        call(server, "/sequence/seq-d?codes=hang,200", timeout=0.3)
    assert call(server, "/sequence/seq-d?codes=hang,200").status == 200


def test_ratelimit_answers_429_with_retry_after_then_lets_through(server):
    path = "/ratelimit/rl-a?limit=3&window=0.5"
    assert [call(server, path).status for _ in range(3)] == [200, 200, 200]
    limited = call(server, path)
    assert limited.status == 429
    retry_after = float(limited.headers["Retry-After"])
    assert 0 < retry_after <= 0.5
    assert limited.json()["retry_after"] == pytest.approx(retry_after, abs=0.01)
    assert call(server, "/ratelimit/rl-b?limit=3&window=0.5").status == 200  # other key
    time.sleep(retry_after + 0.05)
    assert call(server, path).status == 200


def test_unreliable_is_reproducible_per_key_and_seed(fresh):
    def run(key: str, seed: int) -> list[int]:
        return [call(fresh, f"/unreliable/{key}?p=0.3&seed={seed}").status for _ in range(40)]

    first = run("u", 1)
    fresh.reset()
    assert run("u", 1) == first
    assert run("u", 2) != first
    assert 4 <= first.count(503) <= 20
    assert {call(fresh, "/unreliable/v?p=0").status for _ in range(10)} == {200}
    assert {call(fresh, "/unreliable/w?p=1").status for _ in range(10)} == {503}


def test_hang_is_recorded_as_client_closed_when_the_client_gives_up(fresh):
    async def give_up() -> None:
        timeout = aiohttp.ClientTimeout(total=0.2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            with pytest.raises(TimeoutError):
                await session.get(f"{fresh.url}/hang")

    asyncio.run(give_up())
    wait_until(lambda: fresh.requests("/hang") != [])
    assert fresh.requests("/hang")[0].status == labserver.CLIENT_CLOSED
    assert fresh.stats()["in_flight"] == 0


def test_hang_gives_up_server_side_with_504(server, monkeypatch):
    monkeypatch.setattr(labserver, "HANG_SECONDS", 0.2)
    reply = call(server, "/hang")
    assert reply.status == 504 and "gave up" in reply.text


# --------------------------------------------------------------- payments


def post_payment(server, fail: int = 0, key: str | None = None) -> Reply:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return call(server, f"/payments?fail={fail}", "POST", b'{"amount": 5}', headers)


def test_payment_retried_without_a_key_is_charged_every_time(fresh):
    replies = [post_payment(fresh, fail=2) for _ in range(3)]
    assert [r.status for r in replies] == [503, 503, 201]
    assert call(fresh, "/payments").json()["count"] == 3  # the lost answers still charged


def test_payment_retried_with_an_idempotency_key_is_charged_once(fresh):
    replies = [post_payment(fresh, fail=2, key="order-1") for _ in range(3)]
    assert [r.status for r in replies] == [503, 503, 200]
    assert replies[2].headers["Idempotent-Replayed"] == "true"
    assert replies[2].json() == {"id": 1, "idempotency_key": "order-1", "data": {"amount": 5}}
    assert post_payment(fresh, key="order-1").json()["id"] == 1
    assert post_payment(fresh, key="order-2").status == 201
    listed = call(fresh, "/payments").json()
    assert [p["idempotency_key"] for p in listed["payments"]] == ["order-1", "order-2"]


# ------------------------------------------------------------- statistics


def test_stats_count_total_per_path_and_status(fresh):
    for path in ("/get", "/get?x=1", "/status/404", "/nope"):
        call(fresh, path)
    stats = fresh.stats()
    assert stats["total"] == 4
    assert stats["per_path"] == {"/get": 2, "/status/404": 1, "/nope": 1}
    assert stats["status_counts"] == {200: 2, 404: 2}
    assert set(stats) == {"total", "per_path", "in_flight", "peak_in_flight", "connections", "status_counts"}


def test_in_flight_and_peak_follow_concurrent_requests(fresh):
    async def ten_open_requests() -> None:
        async with aiohttp.ClientSession() as session:
            tasks = [asyncio.create_task(session.get(f"{fresh.url}/hang")) for _ in range(10)]
            while fresh.stats()["in_flight"] < 10:
                await asyncio.sleep(0.01)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(asyncio.wait_for(ten_open_requests(), timeout=10))
    wait_until(lambda: fresh.stats()["in_flight"] == 0)
    assert fresh.stats()["peak_in_flight"] == 10


def test_peak_in_flight_respects_a_client_side_limit(fresh):
    async def limited() -> None:
        connector = aiohttp.TCPConnector(limit=3)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one() -> None:
                async with session.get(f"{fresh.url}/delay/0.05") as resp:
                    await resp.read()

            await asyncio.gather(*(one() for _ in range(12)))

    asyncio.run(limited())
    assert fresh.stats()["peak_in_flight"] <= 3
    assert fresh.stats()["per_path"] == {"/delay/0.05": 12}


def test_connections_counts_a_new_session_per_request_against_a_shared_one(fresh):
    async def session_per_request() -> None:
        for _ in range(5):
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{fresh.url}/get") as resp:
                    await resp.read()

    async def shared_session() -> None:
        async with aiohttp.ClientSession() as session:
            for _ in range(5):
                async with session.get(f"{fresh.url}/get") as resp:
                    await resp.read()

    asyncio.run(session_per_request())
    assert fresh.stats()["connections"] == 5
    fresh.reset()
    asyncio.run(shared_session())
    assert fresh.stats()["connections"] == 1
    assert fresh.stats()["total"] == 5


def test_reset_zeroes_statistics_and_fault_state(fresh):
    call(fresh, "/flaky/reset-me?fail=1")
    call(fresh, "/status/503,200")
    post_payment(fresh, key="reset-key")
    fresh.reset()
    assert fresh.stats() == {
        "total": 0,
        "per_path": {},
        "in_flight": 0,
        "peak_in_flight": 0,
        "connections": 0,
        "status_counts": {},
    }
    assert fresh.requests() == []
    assert call(fresh, "/flaky/reset-me?fail=1").status == 503  # attempt 1 again
    assert call(fresh, "/status/503,200").status == 503
    assert call(fresh, "/payments").json()["count"] == 0


def test_reset_during_a_request_keeps_in_flight_true(fresh):
    async def reset_while_open() -> None:
        async with aiohttp.ClientSession() as session:
            task = asyncio.create_task(session.get(f"{fresh.url}/hang"))
            while fresh.stats()["in_flight"] < 1:
                await asyncio.sleep(0.01)
            fresh.reset()
            stats = fresh.stats()
            assert (stats["in_flight"], stats["peak_in_flight"], stats["total"]) == (1, 1, 0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(asyncio.wait_for(reset_while_open(), timeout=10))
    wait_until(lambda: fresh.stats()["in_flight"] == 0)


def test_requests_records_perf_counter_times_query_and_status(fresh):
    before = time.perf_counter()
    call(fresh, "/delay/0.2?x=1")
    call(fresh, "/status/418")
    after = time.perf_counter()
    delayed, teapot = fresh.requests()
    assert (delayed.method, delayed.path, delayed.query, delayed.status) == ("GET", "/delay/0.2", "x=1", 200)
    assert before <= delayed.started < delayed.finished <= teapot.started < after
    assert 0.2 <= delayed.duration < 3
    assert teapot.status == 418
    assert fresh.requests("/status") == [teapot]


def test_requests_are_ordered_by_start_time(fresh):
    async def overlapping() -> None:
        async with aiohttp.ClientSession() as session:

            async def one(delay: float) -> None:
                async with session.get(f"{fresh.url}/delay/{delay}") as resp:
                    await resp.read()

            slow = asyncio.create_task(one(0.3))
            await asyncio.sleep(0.1)
            await one(0)
            await slow

    asyncio.run(overlapping())
    records = fresh.requests("/delay")
    assert [r.path for r in records] == ["/delay/0.3", "/delay/0"]
    assert records[0].finished > records[1].finished


def test_two_hundred_concurrent_delays_overlap_on_the_server(fresh):
    async def burst() -> float:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def one() -> None:
                async with session.get(f"{fresh.url}/delay/0.2") as resp:
                    await resp.read()

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(200)))
            return time.perf_counter() - started

    elapsed = asyncio.run(burst())
    assert elapsed < 3  # sequentially 40 s; tools/bench_labserver.py times it closely
    assert fresh.stats()["peak_in_flight"] > 100


@pytest.mark.parametrize(
    "path", ["/stream-bytes/5000", "/drip?numbytes=5&duration=0", "/slow-body/100?delay=0", "/truncated/100"]
)
def test_head_on_a_streaming_endpoint_sends_no_body(server, path):
    # A body after HEAD would be read as the start of the next response on the same connection.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("HEAD", path)
        head = conn.getresponse()
        head.read()
        conn.request("GET", "/get")
        after = conn.getresponse()
        assert (head.status, after.status) == (200, 200)
        assert json.loads(after.read())["url"].endswith("/get")
    finally:
        conn.close()
