"""A simulated class on one JupyterHub: N learners run the service notebooks at the same time.

    python -m tools classroom simulate --learners 10     # install the hub if missing, run, report
    python -m tools classroom simulate --learners 4 --all-notebooks   # every notebook, not only 08-18's services
    python -m tools classroom simulate --learners 4 --notebooks 10,18
    python -m tools classroom install                     # only create .venv-hub and the proxy

``simulate`` installs the hub if missing (``.venv-hub`` from deploy/jupyterhub/requirements.txt, the
proxy with ``npm ci`` from deploy/jupyterhub/proxy/package-lock.json), starts the course's PostgreSQL
and Redis (``python -m helpers services up``) unless they already answer, starts JupyterHub with
deploy/jupyterhub/jupyterhub_config.py, creates N learners and their servers through the hub's REST
API, and has every learner run notebooks 08, 09, 12 and 18 (each in a fresh kernel of their OWN
server, over the Jupyter server REST API and the kernel's websocket), all learners at once. With
``--all-notebooks`` (or ``--notebooks 00,10,...``) every learner runs those notebooks instead, in
catalog order; the report then lists the **load-sensitive cells**: each cell that failed for at least
one learner, with how many learners it failed for and its first error. A cell that passes alone (CI,
strict nbval) but fails here asserts something only an idle machine gives.

It then checks that no cell raised unexpectedly (cells marked NBVAL_RAISES_EXCEPTION must raise), that
each learner's schemas and keys are theirs and survive the reset of another learner, that a reset
leaves nothing behind, and that the peak number of PostgreSQL connections (pg_stat_activity, sampled
every 0.2 s) stays within the budget printed. It prints N, wall time, time per learner, peak
connections and the peak memory (sum of RSS of the hub, proxy, single-user servers and kernels), and
stops everything it started, pass or fail. Exit status 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from helpers import classroom as class_budget
from helpers import services
from tools import catalog

ROOT = Path(__file__).resolve().parent.parent
HUB_DIR = ROOT / "deploy" / "jupyterhub"
HUB_CONFIG = HUB_DIR / "jupyterhub_config.py"
HUB_REQUIREMENTS = HUB_DIR / "requirements.txt"
PROXY_DIR = HUB_DIR / "proxy"
PROXY = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
HUB_VENV = ROOT / ".venv-hub"
HUB = HUB_VENV / "bin" / "jupyterhub"
STATE = HUB_DIR / ".class"  # hub database, learners' homes, logs (git-ignored); wiped at each run
RAISES_MARK = "NBVAL_RAISES_EXCEPTION"
SAMPLE_EVERY = 0.2  # seconds between samples of pg_stat_activity and of the processes' RSS
CELL_TIMEOUT = 300.0  # seconds for one cell, as in the README's nbval command
# PostgreSQL connections one learner may hold at once: the class preflight's own figure
# (helpers.classroom.PEAKS: notebook 08's pool of ten while its own pool of up to five is open).
PER_LEARNER_CONNECTIONS = class_budget.peak_per_learner("postgres", board=False)


def service_notebooks() -> list[str]:
    """The notebooks that use PostgreSQL or Redis, from the course catalog (08, 09, 12, 18)."""
    return [nb.file for nb in catalog.notebooks() if {"postgres", "redis"} & set(nb.services)]


def chosen_notebooks(numbers: list[str] | None = None, *, every: bool = False) -> list[str]:
    """The notebook files a learner runs: the service notebooks, every notebook, or the numbers given."""
    files = [nb.file for nb in catalog.notebooks()]
    if every:
        return files
    if not numbers:
        return service_notebooks()
    wanted = {n.strip().zfill(2) for n in numbers if n.strip()}
    found = [f for f in files if f[:2] in wanted]
    if missing := wanted - {f[:2] for f in found}:
        raise ValueError(f"no notebook numbered {', '.join(sorted(missing))} in the catalog")
    return found


# --------------------------------------------------------------------------------------------------
# Installing the hub: its own venv and the proxy, from pinned versions
# --------------------------------------------------------------------------------------------------


def install_hub() -> None:
    """Create .venv-hub and install the proxy, each only when missing."""
    if not HUB.exists():
        print(f"classroom: installing JupyterHub into {HUB_VENV.name} ({HUB_REQUIREMENTS.relative_to(ROOT)})")
        subprocess.run([sys.executable, "-m", "venv", str(HUB_VENV)], check=True)
        pip = [str(HUB_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps"]
        subprocess.run([*pip, "-r", str(HUB_REQUIREMENTS)], check=True)
    if not PROXY.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("classroom: npm is needed for configurable-http-proxy (install Node.js 20+)")
        print("classroom: installing configurable-http-proxy (npm ci, deploy/jupyterhub/proxy)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(PROXY_DIR)], check=True)


def hub_installable() -> str | None:
    """None when the hub is installed or can be (npm present); else why not."""
    if HUB.exists() and PROXY.exists():
        return None
    return None if shutil.which("npm") else "npm is missing (configurable-http-proxy comes from npm)"


# --------------------------------------------------------------------------------------------------
# Processes: the shared servers and the hub, and the RSS of everything the hub runs
# --------------------------------------------------------------------------------------------------


def free_port_block(size: int = 3) -> int:
    """A port p such that p .. p+size-1 are free on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + size < 65536 and all(_port_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports found")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def shared_servers() -> Iterator[tuple[str, str]]:
    """The class's PostgreSQL and Redis URLs; started with `services up` (and stopped after) if needed."""
    started = False
    try:
        urls = services.postgres_url(), services.redis_url()
    except services.ServiceUnavailable:
        subprocess.run([sys.executable, "-m", "helpers", "services", "up"], check=True, cwd=ROOT)
        started = True
        urls = services.postgres_url(), services.redis_url()
    try:
        yield urls
    finally:
        if started:
            subprocess.run([sys.executable, "-m", "helpers", "services", "down"], check=False, cwd=ROOT)


@dataclass
class Hub:
    """A running JupyterHub: its process, public URL and the admin service's token."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    seen: set[int] = field(default_factory=set)  # every PID under the hub, for the final cleanup


def start_hub(urls: tuple[str, str], notebooks: Path) -> Hub:
    """Start JupyterHub (and through it the proxy) on fresh loopback ports, with a fresh state folder."""
    shutil.rmtree(STATE, ignore_errors=True)
    STATE.mkdir(parents=True)
    port, token = free_port_block(), secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "JUPYTERHUB_"))}
    env.update(
        CLASS_HUB_PORT=str(port),
        CLASS_HUB_TOKEN=token,
        CLASS_STATE_DIR=str(STATE),
        CLASS_NOTEBOOKS=str(notebooks),
        CLASS_KERNEL_PYTHON=sys.executable,
        DATABASE_URL=urls[0],
        REDIS_URL=urls[1],
        PATH=f"{HUB.parent}{os.pathsep}{env.get('PATH', '')}",
    )
    log = (STATE / "hub.log").open("wb")
    process = subprocess.Popen(
        [str(HUB), "-f", str(HUB_CONFIG)], cwd=STATE, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    return Hub(process, f"http://127.0.0.1:{port}", token)


def stop_hub(hub: Hub, grace: float = 30) -> list[int]:
    """SIGTERM the hub (it stops the servers and the proxy), then kill what is left; return those PIDs."""
    hub.seen |= set(descendants(hub.process.pid))
    if hub.process.poll() is None:
        hub.process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            hub.process.wait(grace)
    if hub.process.poll() is None:
        hub.process.kill()
        hub.process.wait()
    time.sleep(1)
    left = [pid for pid in sorted(hub.seen) if _alive(pid)]
    for pid in left:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _parents() -> dict[int, int]:
    """PID -> parent PID of every process, from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return parents


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_bytes(pids: list[int]) -> int:
    """The sum of the resident set sizes of ``pids`` (those that still exist)."""
    total = 0
    for pid in pids:
        with suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


# --------------------------------------------------------------------------------------------------
# The hub's REST API: learners, their servers and tokens
# --------------------------------------------------------------------------------------------------


async def wait_for_hub(session: aiohttp.ClientSession, hub: Hub, timeout: float = 60) -> None:
    """Until the hub's API answers (or the hub process ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited with {hub.process.returncode}; see {STATE / 'hub.log'}")
        with suppress(aiohttp.ClientError):
            async with session.get(f"{hub.url}/hub/api/") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.3)
    raise TimeoutError(f"JupyterHub did not answer within {timeout:.0f} s; see {STATE / 'hub.log'}")


async def hub_api(session: aiohttp.ClientSession, hub: Hub, method: str, path: str, **kw: Any) -> Any:
    """One call of the hub's REST API as the admin service; the decoded JSON body (None if empty)."""
    headers = {"Authorization": f"token {hub.token}"}
    async with session.request(method, f"{hub.url}/hub/api{path}", headers=headers, **kw) as response:
        if response.status >= 400:
            raise RuntimeError(f"{method} /hub/api{path}: {response.status} {await response.text()}")
        text = await response.text()
        return json.loads(text) if text else None


async def start_learner(session: aiohttp.ClientSession, hub: Hub, name: str, timeout: float = 240) -> str:
    """Create learner ``name``, start their server, wait until it is ready; return a token of theirs."""
    await hub_api(session, hub, "POST", f"/users/{name}")
    await hub_api(session, hub, "POST", f"/users/{name}/server")
    deadline = time.monotonic() + timeout
    while True:
        user = await hub_api(session, hub, "GET", f"/users/{name}")
        server = user.get("servers", {}).get("", {})
        if server.get("ready"):
            break
        if time.monotonic() > deadline or not user.get("pending") and not server:
            raise RuntimeError(f"{name}: server not ready after {timeout:.0f} s: {user}")
        await asyncio.sleep(0.5)
    token = await hub_api(session, hub, "POST", f"/users/{name}/tokens", json={"note": "classroom"})
    return str(token["token"])


# --------------------------------------------------------------------------------------------------
# Running a notebook in a learner's own kernel: Jupyter server REST API + the kernel's websocket
# --------------------------------------------------------------------------------------------------


@dataclass
class Learner:
    """One simulated learner: name, token, and what their runs produced."""

    name: str
    token: str
    problems: list[str] = field(default_factory=list)
    failed_cells: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (notebook, "code cell 21", error)
    windows: list[tuple[str, float, float]] = field(default_factory=list)  # (notebook, start, end)
    cells: list[tuple[str, float, float]] = field(default_factory=list)  # ("08 cell 12", start, end)


def _message(session_id: str, code: str) -> dict[str, Any]:
    """An execute_request of the Jupyter messaging protocol (5.3), as the websocket's JSON carries it."""
    header = {
        "msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "session": session_id,
        "username": "classroom", "version": "5.3", "date": "",
    }  # fmt: skip
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
    }
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _error_line(content: dict[str, Any]) -> str:
    """``Name: value``, and the line that raised (IPython marks it ``---->``) when the value is empty."""
    text = f"{content['ename']}: {content['evalue']}"
    if not content["evalue"]:
        marked = [line for frame in content.get("traceback", []) for line in ANSI.sub("", frame).splitlines()]
        marked = [line.strip() for line in marked if line.lstrip().startswith("---->")]
        text += marked[-1] if marked else ""
    return text[:300]


async def execute_cell(ws: aiohttp.ClientWebSocketResponse, session_id: str, code: str) -> list[str]:
    """Run one cell; return its errors ("Name: value"), after the reply and the kernel's idle status."""
    request = _message(session_id, code)
    await ws.send_json(request)
    errors, replied, idle = [], False, False
    async with asyncio.timeout(CELL_TIMEOUT):
        while not (replied and idle):
            msg = await ws.receive_json()
            if msg.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "error":
                errors.append(_error_line(msg["content"]))
            replied |= kind == "execute_reply"
            idle |= kind == "status" and msg["content"]["execution_state"] == "idle"
    return errors


@asynccontextmanager
async def kernel(
    session: aiohttp.ClientSession, base: str, learner: Learner, path: str
) -> AsyncIterator[str]:
    """A fresh kernel in the learner's own server, working in the notebook's folder; its id."""
    headers = {"Authorization": f"token {learner.token}"}
    url = f"{base}/user/{learner.name}/api/kernels"
    async with session.post(url, headers=headers, json={"name": "python3", "path": path}) as response:
        response.raise_for_status()
        kernel_id = (await response.json())["id"]
    try:
        yield kernel_id
    finally:
        async with session.delete(f"{url}/{kernel_id}", headers=headers):
            pass


async def run_notebook(
    session: aiohttp.ClientSession, base: str, learner: Learner, path: str
) -> list[tuple[str, str]]:
    """Execute every code cell of the learner's copy of ``path``; return the unexpected outcomes.

    Each is ``("code cell N", what happened)``, N counting code cells from 1 as nbval does.
    """
    headers = {"Authorization": f"token {learner.token}"}
    contents = f"{base}/user/{learner.name}/api/contents/{path}"
    async with session.get(contents, headers=headers) as response:
        response.raise_for_status()
        cells = [c for c in (await response.json())["content"]["cells"] if c["cell_type"] == "code"]
    problems = []
    async with kernel(session, base, learner, path) as kernel_id:
        ws_url = f"{base}/user/{learner.name}/api/kernels/{kernel_id}/channels".replace("http", "ws", 1)
        session_id = uuid.uuid4().hex
        # No permessage-deflate (compress=0): on loopback it saves nothing, and with it aiohttp 3.14.5
        # once closed a learner's socket under load ("Received frame with non-zero reserved bits",
        # 1002), the family of aiohttp#13274: compression state confused by interleaved ping frames.
        async with session.ws_connect(ws_url, headers=headers, max_msg_size=0, compress=0) as ws:
            for number, cell in enumerate(cells, 1):
                started = time.monotonic()
                errors = await execute_cell(ws, session_id, cell["source"])
                learner.cells.append(
                    (f"{path.rsplit('/', 1)[-1][:2]} code cell {number}", started, time.monotonic())
                )
                marked = RAISES_MARK in cell["source"]
                if errors and not marked:
                    problems.append((f"code cell {number}", errors[0]))
                if marked and not errors:
                    problems.append((f"code cell {number}", f"marked {RAISES_MARK} but raised nothing"))
    return problems


async def run_learner(
    session: aiohttp.ClientSession, base: str, learner: Learner, folder: str, notebooks: list[str]
) -> None:
    """The learner runs the notebooks in order, each in a fresh kernel of their server."""
    for name in notebooks:
        started = time.monotonic()
        try:
            found = await run_notebook(session, base, learner, f"{folder}/{name}")
        except Exception as exc:  # noqa: BLE001 - reported per learner and notebook; the others go on
            found = [("the notebook", f"{type(exc).__name__}: {exc}")]
        learner.windows.append((name[:2], started, time.monotonic()))
        learner.failed_cells += [(name[:2], cell, error) for cell, error in found]
        learner.problems += [f"{learner.name} {name[:2]}: {cell}: {error}" for cell, error in found]


# --------------------------------------------------------------------------------------------------
# Sampling: PostgreSQL connections and memory, every 0.2 s during the run
# --------------------------------------------------------------------------------------------------


@dataclass
class Samples:
    """Time series of (monotonic time, PostgreSQL client connections) and the peak RSS."""

    connections: list[tuple[float, int]] = field(default_factory=list)
    peak_rss: int = 0

    @property
    def peak_connections(self) -> int:
        return max((n for _, n in self.connections), default=0)

    def peak_between(self, start: float, end: float) -> int:
        return max((n for t, n in self.connections if start <= t <= end), default=0)


COUNT_CLIENTS = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"


async def sample(pg: Any, hub: Hub, samples: Samples, stop: asyncio.Event) -> None:
    """Until ``stop``: count PostgreSQL client connections and sum the RSS of the hub's process tree."""
    while not stop.is_set():
        samples.connections.append((time.monotonic(), int(await pg.fetchval(COUNT_CLIENTS))))
        pids = descendants(hub.process.pid)
        hub.seen.update(pids)
        samples.peak_rss = max(samples.peak_rss, rss_bytes(pids))
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)


# --------------------------------------------------------------------------------------------------
# Isolation: what each learner has on the servers, and resets
# --------------------------------------------------------------------------------------------------


def numbers() -> list[str]:
    return [name[:2] for name in service_notebooks()]


async def footprint(pg: Any, r: Any, name: str, *, expiring: bool = False) -> dict[str, int]:
    """What learner ``name`` has on the servers: rows per table of their schemas, keys per prefix.

    Keys with a time to live (rate-limit windows, short cache entries) vanish by themselves, so they
    count only with ``expiring=True``; comparisons over time use the others.
    """
    found: dict[str, int] = {}
    for number in numbers():
        ns = services.Namespace(name, number)
        tables = await pg.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", ns.schema)
        for (table,) in tables:
            quoted = f"{services.namespaces.quote_ident(ns.schema)}.{services.namespaces.quote_ident(table)}"
            found[f"{ns.schema}.{table}"] = int(await pg.fetchval(f"SELECT count(*) FROM {quoted}"))
        keys = [k async for k in r.scan_iter(match=f"{ns.key_prefix}*", count=services.SCAN_COUNT)]
        if keys and not expiring:
            keys = [k for k, ttl in zip(keys, await _ttls(r, keys), strict=True) if ttl == -1]
        if keys:
            found[f"{ns.key_prefix}*"] = len(keys)
    return found


async def _ttls(r: Any, keys: list[str]) -> list[int]:
    async with r.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.ttl(key)
        return [int(t) for t in await pipe.execute()]


async def stray(pg: Any, r: Any, name: str) -> list[str]:
    """Schemas or keys of ``name`` outside the service notebooks' namespaces (there should be none)."""
    allowed = {services.Namespace(name, n).schema for n in numbers()}
    schemas = await pg.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", f"nb%\\_{name}")
    prefixes = tuple(services.Namespace(name, n).key_prefix for n in numbers())
    keys = [
        k
        async for k in r.scan_iter(match=f"{name}:*", count=services.SCAN_COUNT)
        if not k.startswith(prefixes)
    ]
    return [s for (s,) in schemas if s not in allowed] + keys[:5]


async def reset_learner(pg: Any, r: Any, name: str) -> None:
    """The course's own resets (services.reset_postgres / reset_redis) of every service notebook."""
    for number in numbers():
        ns = services.Namespace(name, number)
        await services.reset_postgres(pg, ns)
        await services.reset_redis(r, ns)


async def forget_learner(pg: Any, r: Any, name: str) -> None:
    """Drop the learner's schemas and delete their keys: nothing of them is left on the servers."""
    for number in numbers():
        ns = services.Namespace(name, number)
        await pg.execute(f"DROP SCHEMA IF EXISTS {services.namespaces.quote_ident(ns.schema)} CASCADE")
        await services.reset_redis(r, ns)


async def check_isolation(pg: Any, r: Any, names: list[str]) -> list[str]:
    """Every learner has their own data; resetting one at a time removes theirs only, and all of it."""
    problems = []
    before = {name: await footprint(pg, r, name) for name in names}
    for name in names:
        expected = {f"{services.Namespace(name, n).schema}.accounts" for n in ("08",)} & set(before[name])
        if not expected:
            problems.append(f"{name}: no nb08 accounts table after the run: {sorted(before[name])}")
        if len(before[name]) < len(numbers()):
            problems.append(f"{name}: little left after the run: {before[name]}")
        problems += [f"{name}: outside its namespaces: {s}" for s in await stray(pg, r, name)]
        if not expected:  # the learner's notebook 08 failed early: reported above and with its cells
            continue
        balances = await pg.fetch(f'SELECT name, balance FROM "nb08_{name}".accounts ORDER BY name')
        if dict(balances) != {"ada": 100, "bob": 50}:  # what 08's last cells leave (tests/test_namespaces.py)
            problems.append(f"{name}: nb08 accounts ended as {dict(balances)}")
    shapes = {name: sorted(k.replace(name, "<name>") for k in fp) for name, fp in before.items()}
    if len({tuple(s) for s in shapes.values()}) > 1:
        problems.append(f"learners left different tables/prefixes: {shapes}")
    for index, name in enumerate(names):
        await reset_learner(pg, r, name)
        if left := {k: v for k, v in (await footprint(pg, r, name, expiring=True)).items() if v}:
            problems.append(f"{name}: left behind after its reset: {left}")
        for other in names[index + 1 :]:
            if (now := await footprint(pg, r, other)) != before[other]:
                problems.append(f"{other}: changed by the reset of {name}: {before[other]} -> {now}")
    return problems


# --------------------------------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------------------------------


@dataclass
class Report:
    """The figures of one simulated class."""

    learners: int
    notebooks: list[str] = field(default_factory=service_notebooks)
    wall_s: float = 0.0
    run_s: float = 0.0
    spawn_s: float = 0.0
    baseline_connections: int = 0
    peak_connections: int = 0
    budget: int = 0
    max_connections: int = 0
    idle_rss: int = 0
    peak_rss: int = 0
    per_notebook_peak: dict[str, int] = field(default_factory=dict)
    top_cells: list[tuple[str, int]] = field(default_factory=list)  # the cells with the most connections
    per_learner_s: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # (notebook, "code cell N") -> the learners it failed for, and the first error seen
    failed_cells: dict[tuple[str, str], tuple[list[str], str]] = field(default_factory=dict)

    def load_sensitive(self) -> list[str]:
        """One line per cell that failed for at least one learner, most learners first."""
        rows = sorted(self.failed_cells.items(), key=lambda item: (-len(item[1][0]), item[0]))
        return [
            f"  {nb} {cell:<13} {len(who)} of {self.learners} learners   {' '.join(error.split())[:140]}"
            for (nb, cell), (who, error) in rows
        ]

    def lines(self) -> list[str]:
        mib = 1024 * 1024
        times = sorted(self.per_learner_s.values()) or [0.0]
        per_learner_rss = (self.peak_rss - self.idle_rss) / max(self.learners, 1) / mib
        lines = [
            f"learners                {self.learners}",
            f"wall time               {self.wall_s:.1f} s (servers ready after {self.spawn_s:.1f} s; notebooks {self.run_s:.1f} s)",
            f"time per learner        {sum(times) / len(times):.1f} s mean, {times[-1]:.1f} s slowest"
            f" ({'+'.join(nb[:2] for nb in self.notebooks)})",
            f"peak PG connections     {self.peak_connections} (baseline {self.baseline_connections}, budget {self.budget}, max_connections {self.max_connections})",
            f"peak memory (RSS sum)   {self.peak_rss / mib:.0f} MiB (hub + proxy idle {self.idle_rss / mib:.0f} MiB; {per_learner_rss:.0f} MiB per learner)",
        ]
        peaks = ", ".join(f"{nb}: {n}" for nb, n in self.per_notebook_peak.items())
        note = "exact per learner" if self.learners == 1 else "all learners together"
        lines.append(f"peak PG connections by notebook ({note}, baseline included): {peaks}")
        if self.learners == 1:
            lines.append(
                "cells with the most PG connections: " + ", ".join(f"{c}: {n}" for c, n in self.top_cells)
            )
        failed = self.load_sensitive()
        lines.append(f"cells that failed (load-sensitive cells): {len(failed) or 'none'}")
        lines += failed
        if self.budget > self.max_connections:
            lines.append(
                f"note: the budget ({self.budget}) exceeds max_connections ({self.max_connections}): the class "
                "fails if enough learners reach the notebooks' largest pools at the same moment"
            )
        return lines


def budget(baseline: int, learners: int) -> int:
    """The connections the class may hold: what was there before, plus each learner's share."""
    return baseline + learners * PER_LEARNER_CONNECTIONS


async def run_class(hub: Hub, urls: tuple[str, str], names: list[str], folder: str, report: Report) -> None:
    """Start the learners, run the notebooks for all at once while sampling, then check isolation."""
    import asyncpg
    import redis.asyncio

    pg = await asyncpg.connect(urls[0])
    r = redis.asyncio.from_url(urls[1], decode_responses=True)
    samples, stop = Samples(), asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    try:
        report.max_connections = int(await pg.fetchval("SHOW max_connections"))
        report.baseline_connections = int(await pg.fetchval(COUNT_CLIENTS))
        report.budget = budget(report.baseline_connections, report.learners)
        for name in names:  # a clean start, as if the class had never run
            await forget_learner(pg, r, name)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await wait_for_hub(session, hub)
            report.idle_rss = rss_bytes(descendants(hub.process.pid))
            sampler = asyncio.create_task(sample(pg, hub, samples, stop))
            started = time.monotonic()
            tokens = await asyncio.gather(*(start_learner(session, hub, name) for name in names))
            report.spawn_s = time.monotonic() - started
            learners = [Learner(name, token) for name, token in zip(names, tokens, strict=True)]
            running = time.monotonic()
            await asyncio.gather(
                *(run_learner(session, hub.url, lr, folder, report.notebooks) for lr in learners)
            )
            report.run_s = time.monotonic() - running
            stop.set()
            await sampler
        report.peak_connections, report.peak_rss = samples.peak_connections, samples.peak_rss
        for lr in learners:
            report.problems += lr.problems
            report.per_learner_s[lr.name] = sum(end - start for _, start, end in lr.windows)
            for nb, cell, error in lr.failed_cells:
                who, first = report.failed_cells.setdefault((nb, cell), ([], error))
                who.append(lr.name)
        for number in [nb[:2] for nb in report.notebooks]:
            spans = [(s, e) for lr in learners for nb, s, e in lr.windows if nb == number]
            report.per_notebook_peak[number] = max((samples.peak_between(s, e) for s, e in spans), default=0)
        cells = [(c, samples.peak_between(s, e)) for lr in learners for c, s, e in lr.cells]
        report.top_cells = sorted(cells, key=lambda item: -item[1])[:4]
        if report.peak_connections > report.budget:
            report.problems.append(f"peak PG connections {report.peak_connections} > budget {report.budget}")
        if set(service_notebooks()) <= set(report.notebooks):  # isolation needs what 08-18 leave behind
            report.problems += await check_isolation(pg, r, names)
    finally:
        stop.set()
        for name in names:
            with suppress(Exception):
                await forget_learner(pg, r, name)
        await pg.close()
        await r.aclose()


def simulate(
    learners: int,
    prefix: str = "learner",
    notebooks: Path = catalog.NOTEBOOKS,
    run: list[str] | None = None,
) -> Report:
    """Run a class of ``learners`` on a fresh hub; always stop the hub and what it started.

    ``run``: the notebook files every learner runs (default: the service notebooks).
    """
    install_hub()
    report = Report(learners, notebooks=run or service_notebooks())
    names = [f"{prefix}{i:02d}" for i in range(1, learners + 1)]
    started = time.monotonic()
    with shared_servers() as urls:
        hub = start_hub(urls, notebooks)
        try:
            asyncio.run(run_class(hub, urls, names, notebooks.name, report))
        except Exception as exc:  # noqa: BLE001 - reported, and the hub is stopped all the same
            report.problems.append(f"simulation stopped: {type(exc).__name__}: {exc}")
        finally:
            left = stop_hub(hub)
            if left:
                report.problems.append(f"processes left after the hub stopped (killed): {left}")
    report.wall_s = time.monotonic() - started
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools classroom", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("simulate", help="run a simulated class on a local JupyterHub")
    run.add_argument("--learners", type=int, default=2, help="how many learners (default 2)")
    run.add_argument("--prefix", default="learner", help="learner names: PREFIX01, PREFIX02, ...")
    which = run.add_mutually_exclusive_group()
    which.add_argument("--all-notebooks", action="store_true", help="every learner runs every notebook")
    which.add_argument("--notebooks", help="every learner runs these, e.g. 00,10,18 (default: 08,09,12,18)")
    commands.add_parser("install", help="create .venv-hub and install the proxy, if missing")
    args = parser.parse_args(argv)
    if args.command == "install":
        install_hub()
        return 0
    try:
        files = chosen_notebooks(
            args.notebooks.split(",") if args.notebooks else None, every=args.all_notebooks
        )
    except ValueError as exc:
        parser.error(str(exc))
    report = simulate(args.learners, args.prefix, run=files)
    print("\n".join(report.lines()))
    for problem in report.problems:
        print(f"FAIL {problem}")
    print("PASS" if not report.problems else f"FAIL: {len(report.problems)} problem(s)")
    return 0 if not report.problems else 1
