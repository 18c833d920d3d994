"""The class progress board: checks record pass/fail under LAB_CLASS; the board shows them (terminal, web)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio

from helpers import progress, services, serving
from helpers.checks import CheckFailed, exercise, expect

CHROMIUM = "/usr/bin/chromium"
HINT = "multiply by two, not add"


def _redis_running() -> bool:
    try:
        services.redis_url()
    except services.ServiceUnavailable:
        return False
    return True


needs_redis = pytest.mark.skipif(not _redis_running(), reason="needs `python -m helpers services up`")


@exercise("tiny doubling")
def check_tiny_double(fn) -> str:
    expect(fn(2) == 4, f"double(2) returned {fn(2)!r}", HINT)
    return "doubles"


@exercise("tiny async doubling", timeout=2)
async def check_tiny_async_double(fn) -> str:
    value = await fn(3)
    expect(value == 6, f"got {value!r}", HINT)
    return "doubles"


async def _async_double(x: int) -> int:
    return 2 * x


async def _async_wrong(x: int) -> int:
    return x + 1


def _fail(check, *args) -> None:
    with pytest.raises(CheckFailed):
        check(*args)


@pytest.fixture
def class_id() -> Iterator[str]:
    """A class id of this test's own; its keys are deleted afterwards."""
    cid = f"test_{uuid.uuid4().hex[:10]}"
    yield cid
    if _redis_running():
        asyncio.run(_clear(cid))
    assert not _keys(f"class:{cid}:*")


async def _clear(cid: str) -> int:
    async with redis.asyncio.from_url(services.redis_url()) as client:
        return await progress.clear(client, cid)


def _keys(pattern: str) -> list[str]:
    with redis.Redis.from_url(services.redis_url(), decode_responses=True) as client:
        return list(client.scan_iter(match=pattern, count=1000))


def _hash(key: str) -> dict[str, str]:
    with redis.Redis.from_url(services.redis_url(), decode_responses=True) as client:
        return client.hgetall(key)  # type: ignore[return-value]


def _board(cid: str) -> progress.Board:
    async def load() -> progress.Board:
        async with redis.asyncio.from_url(services.redis_url()) as client:
            return await progress.load(client, cid)

    return asyncio.run(load())


@pytest.mark.services
@needs_redis
def test_passes_and_failures_of_real_checks_are_recorded(class_id: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LAB_CLASS", class_id)
    monkeypatch.setenv("LAB_NAMESPACE", "ada")
    _fail(check_tiny_double, lambda x: x + 1)
    _fail(check_tiny_double, lambda x: x + 1)
    check_tiny_double(lambda x: x * 2)
    with pytest.raises(CheckFailed):
        asyncio.run(check_tiny_async_double(_async_wrong))
    assert capsys.readouterr().out == "✓ tiny doubling: doubles\n"  # the record printed nothing

    sync = _hash(f"class:{class_id}:p:ada:tiny_double")
    assert (sync["passes"], sync["failures"], sync["last"]) == ("1", "2", "pass")
    assert abs(float(sync["first_pass"]) - time.time()) < 60 and float(sync["last_seen"]) >= float(
        sync["first_pass"]
    )
    failing = _hash(f"class:{class_id}:p:ada:tiny_async_double")
    assert (failing.get("passes"), failing["failures"], failing["last"]) == (None, "1", "fail")
    assert "first_pass" not in failing

    # Only counts, outcomes and times: no code, answers or hint text anywhere under the class.
    allowed = {"passes", "failures", "last", "first_pass", "last_seen"}
    assert set(sync) <= allowed and set(failing) <= allowed
    for key in _keys(f"class:{class_id}:*"):
        with redis.Redis.from_url(services.redis_url(), decode_responses=True) as client:
            kind = client.type(key)
            values = client.hgetall(key).values() if kind == "hash" else client.smembers(key)
            assert client.ttl(key) > 0  # the class's records expire by themselves
        assert not any(HINT in v or "returned" in v or "lambda" in v for v in values)

    board = _board(class_id)
    assert board.learners == ["ada"]
    assert {name for _, name in board.exercises} == {"tiny_double", "tiny_async_double"}
    assert board.cell("ada", "tiny_double").mark == "✓"
    assert board.cell("ada", "tiny_async_double").mark == "✗1"


@pytest.mark.services
@needs_redis
def test_nothing_is_recorded_when_lab_class_is_unset(monkeypatch) -> None:
    learner = f"nobody_{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("LAB_CLASS", raising=False)
    monkeypatch.setenv("LAB_NAMESPACE", learner)
    writes: list[object] = []
    monkeypatch.setattr(progress, "_write_quietly", lambda *a: writes.append(a))
    check_tiny_double(lambda x: x * 2)
    _fail(check_tiny_double, lambda x: x + 1)
    asyncio.run(check_tiny_async_double(_async_double))
    monkeypatch.setenv("LAB_CLASS", "   ")  # empty counts as unset
    check_tiny_double(lambda x: x * 2)
    assert writes == []
    assert not _keys(f"class:*:{learner}*")


def _listener_that_never_answers() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)  # connections complete in the backlog; nothing ever reads or replies
    return sock


@pytest.mark.parametrize("where", ["refused", "silent"])
def test_a_check_behaves_the_same_when_the_class_redis_is_down(where: str, monkeypatch, capsys) -> None:
    silent = _listener_that_never_answers()
    try:
        if where == "refused":
            port = silent.getsockname()[1]
            silent.close()
        else:
            port = silent.getsockname()[1]
        monkeypatch.setenv("LAB_CLASS", "down_test")
        monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
        started = time.perf_counter()
        check_tiny_double(lambda x: x * 2)
        with pytest.raises(CheckFailed) as info:
            check_tiny_double(lambda x: x + 1)
        asyncio.run(check_tiny_async_double(_async_double))
        took = time.perf_counter() - started
    finally:
        silent.close()
    assert str(info.value) == f"✗ tiny doubling: double(2) returned 3\n  hint: {HINT}"
    out = capsys.readouterr()
    assert out.out == "✓ tiny doubling: doubles\n✓ tiny async doubling: doubles\n" and out.err == ""
    assert took < 3 * progress.RECORD_LIMIT + 1.0  # three records, each given up after RECORD_LIMIT


LEARNERS = [f"learner{i:02d}" for i in range(12)]


def _simulate(cid: str) -> None:
    """12 learners on three exercises of the catalog, written in an order unlike the course's."""
    with redis.Redis.from_url(services.redis_url()) as client:
        for i, learner in enumerate(LEARNERS):
            if i < 9:  # 9 of 12 solved 03's first_successful, learner00 after two failures
                if i == 0:
                    for _ in range(2):
                        progress.write(client, cid, learner, "first_successful", "03", passed=False)
                progress.write(client, cid, learner, "first_successful", "03", passed=True)
            else:  # the other three failed it once
                progress.write(client, cid, learner, "first_successful", "03", passed=False)
            if i % 2 == 0:  # half solved 00's wait_all
                progress.write(client, cid, learner, "wait_all", "00", passed=True)
            if i == 5:  # learner05 failed 01's crawl three times: stuck
                for _ in range(3):
                    progress.write(client, cid, learner, "crawl", "01", passed=False)
            if i == 7:  # learner07 failed twice: not stuck yet
                for _ in range(2):
                    progress.write(client, cid, learner, "crawl", "01", passed=False)


def _row(text: str, name: str) -> list[str]:
    return next(line for line in text.splitlines() if line.split()[:1] == [name]).split()[1:]


@pytest.mark.services
@needs_redis
def test_the_board_renders_a_simulated_class(class_id: str) -> None:
    _simulate(class_id)
    board = _board(class_id)
    assert board.learners == LEARNERS
    assert board.exercises == [
        ("00", "wait_all"),
        ("01", "crawl"),
        ("03", "first_successful"),
    ]  # course order
    text = progress.render_text(board)
    header = next(line for line in text.splitlines() if line.startswith("learner "))
    assert header.split() == ["learner", "00.1", "01.1", "03.1"]
    assert _row(text, "learner00") == ["✓", "·", "✓"]
    assert _row(text, "learner05") == ["·", "✗3!", "✓"]
    assert _row(text, "learner07") == ["·", "✗2", "✓"]
    assert _row(text, "learner11") == ["·", "·", "✗1"]
    assert _row(text, "passed") == ["50%", "0%", "75%"]
    assert "stuck (failed ≥ 3 times, never passed): learner05 on crawl" in text
    assert "01.1   crawl (notebook 01)" in text
    assert board.cell("learner00", "first_successful").failures == 2  # passed after failing: not stuck

    shown = subprocess.run(
        [sys.executable, "-m", "helpers", "board", "--class", class_id],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == text


def test_exercises_without_a_catalog_are_sorted_by_notebook_then_name(tmp_path) -> None:
    assert progress.course_order(tmp_path / "missing.toml") == {}
    board = progress.Board("x", [("", "zeta"), ("02", "b")], ["ada"])
    assert board.codes() == ["?.1", "02.1"]
    assert progress.exercise_of(check_tiny_double) == ("tiny_double", "")
    from helpers.checks import nb03

    assert progress.exercise_of(nb03.check_first_successful) == ("first_successful", "03")


@pytest.mark.services
@needs_redis
def test_the_board_server_answers_json_and_a_page_on_loopback(class_id: str) -> None:
    import json
    import urllib.request

    _simulate(class_id)
    with serving.app_in_thread(lambda: progress.make_app(class_id, refresh_s=2)) as served:
        assert served.host == "127.0.0.1"
        with urllib.request.urlopen(served.url + "/board.json", timeout=10) as resp:
            data = json.load(resp)
        with urllib.request.urlopen(served.url + "/", timeout=10) as resp:
            page = resp.read().decode()
    assert [e["code"] for e in data["exercises"]] == ["00.1", "01.1", "03.1"]
    assert data["learners"][5] == {
        "name": "learner05",
        "cells": ["·", "✗3!", "✓"],
        "stuck": [False, True, False],
    }
    assert data["stuck"] == [{"learner": "learner05", "exercise": "crawl"}]
    assert "const REFRESH_MS = 2000;" in page and "board.json" in page


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; it is in the test extra on Python 3.12+)"
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"no chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    return None


@pytest.mark.services
@needs_redis
@pytest.mark.skipif(_browser_missing() is not None, reason=str(_browser_missing()))
def test_the_web_board_shows_the_table_in_a_real_browser_and_updates(class_id: str) -> None:
    from playwright.sync_api import expect as page_expect
    from playwright.sync_api import sync_playwright

    _simulate(class_id)
    with (
        serving.app_in_thread(lambda: progress.make_app(class_id, refresh_s=0.5)) as served,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page()
            page.goto(served.url + "/")
            row = page.locator('tr[data-learner="learner05"] td')
            page_expect(row).to_have_text(["learner05", "·", "✗3!", "✓"], timeout=10_000)
            page_expect(page.locator("#board thead th")).to_have_text(["learner", "00.1", "01.1", "03.1"])
            page_expect(page.locator("tr.share td")).to_have_text(["passed", "50%", "0%", "75%"])
            page_expect(page.locator("#stuck")).to_have_text("stuck: learner05 on crawl")
            assert "stuck" in (row.nth(2).get_attribute("class") or "")

            # A new record: learner05 finally passes crawl; the page shows it without a reload.
            with redis.Redis.from_url(services.redis_url()) as client:
                progress.write(client, class_id, "learner05", "crawl", "01", passed=True)
            page_expect(row).to_have_text(["learner05", "·", "✓", "✓"], timeout=10_000)
            page_expect(page.locator("tr.share td")).to_have_text(["passed", "50%", "8%", "75%"])
            page_expect(page.locator("#stuck")).to_have_text("stuck: nobody")
        finally:
            browser.close()
