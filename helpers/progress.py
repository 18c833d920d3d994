"""A live progress board for a class: each check records pass/fail in the class's Redis.

Opt-in by one variable, which the hub sets for every learner of a class::

    LAB_CLASS=monday_am       # unset (the default): nothing is recorded, no connection is made

With it set, every check (``@exercise`` in ``helpers.checks``) records, for the learner
(``LAB_NAMESPACE``) and the exercise, under ``class:<id>:`` in the Redis of ``REDIS_URL`` (or the local
one): how many times it passed and failed, the last outcome, the first-pass time and the last-seen
time. Never the learner's code, answers or the hint text. Recording can never change a check's output
or break it: it prints and logs nothing, gives up after ``RECORD_LIMIT`` seconds, and swallows every
error (Redis down, a wrong URL). Keys expire ``KEEP_DAYS`` after the last write.

The instructor's board::

    python -m helpers board --class monday_am                  # a terminal table
    python -m helpers board --class monday_am --serve --port 8765   # a page on 127.0.0.1 that refreshes itself
    python -m helpers board --class monday_am --clear          # delete the class's records
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLASS_VAR = "LAB_CLASS"
RECORD_LIMIT = 0.5  # seconds a check may wait for its record, at most
KEEP_DAYS = 30
STUCK_AFTER = 3  # failures of one check without a pass
REFRESH_S = 5

_MODULE_RE = re.compile(r"(?:^|\.)nb(\d{2})$")


def class_id(raw: str | None = None) -> str | None:
    """The class id from ``LAB_CLASS`` (made safe like a namespace), or None when unset or empty."""
    raw = os.environ.get(CLASS_VAR, "") if raw is None else raw
    if not raw.strip():
        return None
    from helpers.services.namespaces import safe_name

    return safe_name(raw.strip())


def prefix(cid: str) -> str:
    return f"class:{cid}:"


def exercise_of(check: Any) -> tuple[str, str]:
    """(exercise name, notebook number or "") for a check function: ``check_first_successful`` in
    ``helpers.checks.nb03`` is ("first_successful", "03"), the names course.toml uses."""
    name = getattr(check, "__name__", "check")
    name = name[len("check_") :] if name.startswith("check_") else name
    match = _MODULE_RE.search(getattr(check, "__module__", "") or "")
    return name, match.group(1) if match else ""


def record(check: Any, passed: bool) -> None:
    """Record one outcome of ``check`` for this learner if ``LAB_CLASS`` is set; never raises or prints."""
    if not os.environ.get(CLASS_VAR, "").strip():
        return
    try:
        cid = class_id()
        from helpers.services.namespaces import namespace

        learner = namespace(0).name
        exercise, notebook = exercise_of(check)
        done = threading.Event()
        worker = threading.Thread(
            target=_write_quietly, args=(cid, learner, exercise, notebook, passed, done), daemon=True
        )
        worker.start()
        done.wait(RECORD_LIMIT)
    except Exception:  # noqa: BLE001 - the board must never break a check
        pass


def _write_quietly(
    cid: str, learner: str, exercise: str, notebook: str, passed: bool, done: threading.Event
) -> None:
    try:
        import redis

        from helpers import services

        client = redis.Redis.from_url(
            services.redis_url(), socket_timeout=RECORD_LIMIT, socket_connect_timeout=RECORD_LIMIT
        )
        try:
            write(client, cid, learner, exercise, notebook, passed)
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - Redis down, a wrong URL: the check goes on without us
        pass
    finally:
        done.set()


def write(
    client: Any, cid: str, learner: str, exercise: str, notebook: str, passed: bool, now: float | None = None
) -> None:
    """Write one outcome with a synchronous redis client (one round trip, MULTI/EXEC)."""
    now = time.time() if now is None else now
    base = prefix(cid)
    key = f"{base}p:{learner}:{exercise}"
    ttl = KEEP_DAYS * 86400
    pipe = client.pipeline(transaction=True)
    pipe.hincrby(key, "passes" if passed else "failures", 1)
    pipe.hset(key, mapping={"last": "pass" if passed else "fail", "last_seen": f"{now:.3f}"})
    if passed:
        pipe.hsetnx(key, "first_pass", f"{now:.3f}")
    pipe.sadd(f"{base}learners", learner)
    pipe.hset(f"{base}exercises", exercise, notebook)
    for k in (key, f"{base}learners", f"{base}exercises"):
        pipe.expire(k, ttl)
    pipe.execute()


# ---- the board ---------------------------------------------------------------------------------


@dataclass
class Cell:
    passes: int = 0
    failures: int = 0
    last: str = ""
    first_pass: float | None = None
    last_seen: float | None = None

    @property
    def stuck(self) -> bool:
        return self.passes == 0 and self.failures >= STUCK_AFTER

    @property
    def mark(self) -> str:
        if self.passes:
            return "✓"
        if self.failures:
            return f"✗{self.failures}" + ("!" if self.stuck else "")
        return "·"


@dataclass
class Board:
    class_id: str
    exercises: list[tuple[str, str]] = field(default_factory=list)  # (notebook, name) in course order
    learners: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)  # (learner, exercise)

    def cell(self, learner: str, exercise: str) -> Cell:
        return self.cells.get((learner, exercise), Cell())

    def share_passed(self, exercise: str) -> float:
        if not self.learners:
            return 0.0
        return sum(self.cell(lr, exercise).passes > 0 for lr in self.learners) / len(self.learners)

    def stuck(self) -> list[tuple[str, str]]:
        return [(lr, ex) for lr in self.learners for _, ex in self.exercises if self.cell(lr, ex).stuck]

    def codes(self) -> list[str]:
        """Short column labels: notebook and position, ``03.2``; ``?.1`` when the notebook is unknown."""
        seen: dict[str, int] = {}
        out = []
        for notebook, _ in self.exercises:
            seen[notebook] = seen.get(notebook, 0) + 1
            out.append(f"{notebook or '?'}.{seen[notebook]}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "class": self.class_id,
            "exercises": [
                {"code": code, "notebook": nb, "name": name, "passed": round(self.share_passed(name), 3)}
                for code, (nb, name) in zip(self.codes(), self.exercises, strict=True)
            ],
            "learners": [
                {
                    "name": lr,
                    "cells": [self.cell(lr, name).mark for _, name in self.exercises],
                    "stuck": [self.cell(lr, name).stuck for _, name in self.exercises],
                }
                for lr in self.learners
            ],
            "stuck": [{"learner": lr, "exercise": ex} for lr, ex in self.stuck()],
            "updated": time.time(),
        }


def course_order(catalog: Path | None = None) -> dict[str, int]:
    """Exercise name -> position in the course, from ``course.toml`` beside the package if it is there."""
    import tomllib

    path = catalog or Path(__file__).resolve().parent.parent / "course.toml"
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("notebook", [])
    except (OSError, ValueError):
        return {}
    order: dict[str, int] = {}
    for entry in entries:
        for name in entry.get("exercises", []):
            order.setdefault(name, len(order))
    return order


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _number(value: Any) -> float | None:
    try:
        return float(_text(value))
    except (TypeError, ValueError):
        return None


async def load(client: Any, cid: str, *, catalog: Path | None = None) -> Board:
    """Read a class's records with a ``redis.asyncio`` client."""
    base = prefix(cid)
    learners = sorted(_text(x) for x in await client.smembers(f"{base}learners"))
    exercises = {_text(k): _text(v) for k, v in (await client.hgetall(f"{base}exercises")).items()}
    order = course_order(catalog)
    ordered = sorted(
        exercises.items(), key=lambda kv: (kv[0] not in order, order.get(kv[0], 0), kv[1], kv[0])
    )
    board = Board(cid, [(nb, name) for name, nb in ordered], learners)
    pairs = [(lr, ex) for lr in learners for ex in exercises]
    pipe = client.pipeline(transaction=False)
    for lr, ex in pairs:
        pipe.hgetall(f"{base}p:{lr}:{ex}")
    for (lr, ex), raw in zip(pairs, await pipe.execute() if pairs else [], strict=True):
        if not raw:
            continue
        data = {_text(k): v for k, v in raw.items()}
        board.cells[(lr, ex)] = Cell(
            passes=int(_text(data.get("passes", 0))),
            failures=int(_text(data.get("failures", 0))),
            last=_text(data.get("last", "")),
            first_pass=_number(data.get("first_pass")),
            last_seen=_number(data.get("last_seen")),
        )
    return board


def render_text(board: Board) -> str:
    """The terminal table: learners × exercises, the share passed, the stuck list and a legend."""
    codes = board.codes()
    width = max([len(lr) for lr in board.learners] + [len("passed")])
    colw = [max(len(c), 4) for c in codes]
    lines = [f"class {board.class_id}: {len(board.learners)} learners, {len(codes)} exercises seen"]
    lines.append(
        " ".join([f"{'learner':<{width}}"] + [f"{c:>{w}}" for c, w in zip(codes, colw, strict=True)])
    )
    for lr in board.learners:
        marks = [board.cell(lr, name).mark for _, name in board.exercises]
        lines.append(" ".join([f"{lr:<{width}}"] + [f"{m:>{w}}" for m, w in zip(marks, colw, strict=True)]))
    shares = [f"{board.share_passed(name):.0%}" for _, name in board.exercises]
    lines.append(
        " ".join([f"{'passed':<{width}}"] + [f"{s:>{w}}" for s, w in zip(shares, colw, strict=True)])
    )
    stuck = board.stuck()
    lines.append("")
    lines.append(
        "stuck (failed ≥ {} times, never passed): {}".format(
            STUCK_AFTER, ", ".join(f"{lr} on {ex}" for lr, ex in stuck) if stuck else "nobody"
        )
    )
    lines.append("legend: ✓ passed · ✗n failed n times · ! stuck · · not tried")
    lines += [
        f"  {code:<6} {name} (notebook {nb or '?'})"
        for code, (nb, name) in zip(codes, board.exercises, strict=True)
    ]
    return "\n".join(lines)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>class {cid} · progress</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: .2rem .5rem; text-align: center; }}
td.name {{ text-align: left; }} td.pass {{ background: #d9f2d9; }} td.fail {{ background: #fde2e2; }}
td.stuck {{ background: #f8b4b4; font-weight: bold; }} tr.share td {{ font-weight: bold; }}
</style></head><body>
<h1>class <span id="class">{cid}</span></h1>
<p id="status">loading…</p>
<table id="board"><thead></thead><tbody></tbody></table>
<p id="stuck"></p>
<script>
const REFRESH_MS = {refresh_ms};
function el(tag, text, cls) {{ const e = document.createElement(tag); e.textContent = text; if (cls) e.className = cls; return e; }}
async function refresh() {{
  try {{
    const data = await (await fetch("board.json", {{cache: "no-store"}})).json();
    const head = document.querySelector("#board thead"), body = document.querySelector("#board tbody");
    const hr = document.createElement("tr"); hr.appendChild(el("th", "learner"));
    for (const ex of data.exercises) {{ const th = el("th", ex.code); th.title = ex.name; hr.appendChild(th); }}
    head.replaceChildren(hr);
    const rows = [];
    for (const lr of data.learners) {{
      const tr = document.createElement("tr"); tr.dataset.learner = lr.name; tr.appendChild(el("td", lr.name, "name"));
      lr.cells.forEach((mark, i) => tr.appendChild(el("td", mark,
        lr.stuck[i] ? "stuck" : mark === "✓" ? "pass" : mark.startsWith("✗") ? "fail" : "")));
      rows.push(tr);
    }}
    const share = document.createElement("tr"); share.className = "share"; share.appendChild(el("td", "passed", "name"));
    for (const ex of data.exercises) share.appendChild(el("td", Math.round(ex.passed * 100) + "%"));
    rows.push(share);
    body.replaceChildren(...rows);
    document.getElementById("stuck").textContent = "stuck: " +
      (data.stuck.length ? data.stuck.map(s => s.learner + " on " + s.exercise).join(", ") : "nobody");
    document.getElementById("status").textContent = data.learners.length + " learners · updated " +
      new Date(data.updated * 1000).toLocaleTimeString();
  }} catch (err) {{
    document.getElementById("status").textContent = "no answer from the board server: " + err;
  }}
}}
refresh(); setInterval(refresh, REFRESH_MS);
</script></body></html>
"""


def make_app(cid: str, *, refresh_s: float = REFRESH_S, redis_url: str | None = None) -> Any:
    """The board as an ``aiohttp.web.Application``: ``/`` the page, ``/board.json`` the data."""
    import redis.asyncio as redis
    from aiohttp import web

    from helpers import services

    held: dict[str, Any] = {}  # the Redis client, made on the server's loop (cleanup_ctx)

    async def page(request: web.Request) -> web.Response:
        text = PAGE.format(cid=html.escape(cid), refresh_ms=int(refresh_s * 1000))
        return web.Response(text=text, content_type="text/html")

    async def data(request: web.Request) -> web.Response:
        board = await load(held["client"], cid)
        return web.json_response(board.to_json())

    async def client_ctx(app: web.Application) -> Any:
        async with redis.from_url(redis_url or services.redis_url(), socket_timeout=5) as client:
            held["client"] = client
            yield

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/board.json", data)
    app.cleanup_ctx.append(client_ctx)
    return app


async def _show(cid: str) -> str:
    import redis.asyncio as redis

    from helpers import services

    async with redis.from_url(services.redis_url(), socket_timeout=5) as client:
        return render_text(await load(client, cid))


async def clear(client: Any, cid: str) -> int:
    """Delete every key of the class (SCAN under ``class:<id>:``, never FLUSHDB)."""
    from helpers.services.namespaces import delete_prefix

    return await delete_prefix(client, prefix(cid))


async def _clear(cid: str) -> int:
    import redis.asyncio as redis

    from helpers import services

    async with redis.from_url(services.redis_url(), socket_timeout=5) as client:
        return await clear(client, cid)


def serve(cid: str, port: int, refresh_s: float) -> None:
    from aiohttp import web

    print(f"board of class {cid} on http://127.0.0.1:{port}/ (refreshes every {refresh_s:g} s; Ctrl-C stops)")
    web.run_app(make_app(cid, refresh_s=refresh_s), host="127.0.0.1", port=port, print=None)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers board", description="a class's progress board")
    parser.add_argument("--class", dest="cid", required=True, help="the class id (what LAB_CLASS holds)")
    parser.add_argument("--serve", action="store_true", help="serve a self-refreshing page on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--refresh", type=float, default=REFRESH_S, help="seconds between page refreshes")
    parser.add_argument("--clear", action="store_true", help="delete the class's records")
    args = parser.parse_args(argv)
    cid = class_id(args.cid)
    if cid is None:
        parser.error("--class must not be empty")
    try:
        if args.clear:
            print(f"deleted {asyncio.run(_clear(cid))} keys of class {cid}")
        elif args.serve:
            serve(cid, args.port, args.refresh)
        else:
            print(asyncio.run(_show(cid)))
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback, for a service that is down
        print(f"python -m helpers board: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
