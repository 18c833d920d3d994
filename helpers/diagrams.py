"""Pictures of the model: what the event loop, tasks and cancellation do, drawn with matplotlib.

    from helpers import diagrams
    diagrams.loop_turn()

Each function draws one figure at a fixed size and calls ``plt.show()`` (pass ``show=False`` to get
the figure back instead, as the tests do). These are diagrams, not measurements: the notebooks'
plots of real runs come from :mod:`helpers.timeline`. A function per figure keeps the drawing code out
of the lessons; the labels are the lesson, so each one is written out here in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "cancellation_in_a_task_group",
    "concurrency_vs_parallelism",
    "coroutine_task_future",
    "crawler_architecture",
    "loop_turn",
]

# One palette for every figure: steps of the loop, data the loop keeps, failures, and cancellation.
STEP = "#dbe9f6"
DATA = "#fdf1d6"
FAILED = "#f6d5d5"
CANCELLED = "#e6e6e6"
DONE = "#d9f0d9"
EDGE = "#44546a"


def _canvas(size: tuple[float, float], title: str) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 60)
    ax.axis("off")
    ax.set_title(title, fontsize=12, loc="left")
    return fig, ax


def _box(ax: Any, x: float, y: float, w: float, h: float, text: str, color: str = STEP, **style: Any) -> None:
    """A rounded box whose lower-left corner is (x, y), with centred text."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0.6,rounding_size=1.5", fc=color, ec=EDGE, lw=1.2, **style
        )
    )
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=9, wrap=True)


def _arrow(
    ax: Any,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    *,
    bend: float = 0.0,
    color: str = EDGE,
    dashed: bool = False,
    label_at: tuple[float, float] | None = None,
) -> None:
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=14,
            color=color,
            lw=1.3,
            linestyle="--" if dashed else "-",
            connectionstyle=f"arc3,rad={bend}",
        )
    )
    if label:
        x, y = label_at or ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.text(x, y, label, ha="center", va="center", fontsize=8, color=color, backgroundcolor="white")


def _finish(fig: Any, show: bool) -> Any:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    if show:
        plt.show()
        return None
    return fig


def loop_turn(*, show: bool = True) -> Any:
    """One turn of the event loop: wait in the selector, collect due timers and ready I/O, run callbacks."""
    fig, ax = _canvas((10, 5.2), "One turn of the event loop (asyncio's BaseEventLoop._run_once)")
    _box(
        ax,
        28,
        46,
        44,
        8,
        "1. select(timeout): wait until a socket is ready; their callbacks\njoin the ready queue. "
        "timeout = time to the next timer (0 if work is ready)",
    )
    _box(ax, 64, 26, 30, 9, "2. due timers move to the ready queue\n(call_later, asyncio.sleep)")
    _box(
        ax,
        30,
        5,
        40,
        8,
        "3. run every callback in the ready queue once:\na task's step runs until its next await",
    )
    _box(ax, 6, 26, 30, 9, "4. what those steps scheduled\n(call_soon, woken tasks) waits for the next turn")
    _arrow(ax, (72, 48), (82, 36), bend=-0.25)
    _arrow(ax, (82, 25), (70, 11), bend=-0.25)
    _arrow(ax, (30, 9), (20, 25), bend=-0.25)
    _arrow(ax, (18, 36), (30, 50), bend=-0.25)
    _box(ax, 40, 24, 20, 12, "ready queue\n(a deque)\n\ntimers\n(a heap by deadline)", DATA)
    ax.text(
        50,
        17.5,
        "a step that never awaits keeps every other callback, timer and socket waiting",
        ha="center",
        fontsize=8,
        style="italic",
        color="#a33",
    )
    return _finish(fig, show)


def coroutine_task_future(*, show: bool = True) -> Any:
    """How a Task drives a chain of coroutines down to a Future, and how a callback wakes it up."""
    fig, ax = _canvas((10, 5.6), "Coroutine, Task and Future: who drives whom")
    _box(ax, 4, 46, 28, 8, "Task\n(wraps the outermost coroutine)")
    _box(ax, 4, 32, 28, 7, "coroutine  main()\nawait fetch(url)")
    _box(ax, 4, 19, 28, 7, "coroutine  fetch()\nawait reader.read()")
    _box(ax, 4, 5, 28, 7, "Future  (pending)\nno result yet", DATA)
    _arrow(ax, (14, 45), (14, 40), "send(None)", label_at=(8.5, 42.5))
    _arrow(ax, (14, 31), (14, 27), "send", label_at=(10, 29))
    _arrow(ax, (14, 18), (14, 13), "send", label_at=(10, 15.5))
    _arrow(ax, (36, 9), (36, 48), "yield future:\nstraight up\nto the Task", label_at=(44, 29))
    _box(
        ax, 62, 40, 32, 11, "event loop\nthe Task's wake-up step is now\na done-callback of the Future", STEP
    )
    _box(ax, 62, 20, 32, 10, "data arrives on the socket:\nfuture.set_result(data)", DATA)
    _box(
        ax, 62, 3, 32, 9, "the callback is scheduled (call_soon);\nnext turn the Task calls send(data)", DONE
    )
    _arrow(ax, (33, 51), (61, 47), "add_done_callback", label_at=(47, 52))
    _arrow(ax, (78, 39), (78, 31), "select() says ready", label_at=(86, 35))
    _arrow(ax, (78, 19), (78, 13))
    _arrow(ax, (61, 6), (37, 52), "resumes at the await", bend=0.35, dashed=True, label_at=(56, 14))
    ax.text(
        36,
        57,
        "await = suspend here until the Future is done; meanwhile the loop runs other tasks",
        fontsize=8.5,
        style="italic",
    )
    return _finish(fig, show)


def cancellation_in_a_task_group(*, show: bool = True) -> Any:
    """How a failure in one child travels through a TaskGroup: cancel siblings, wait, raise a group."""
    fig, ax = _canvas((10, 5.4), "Cancellation in a task tree: one child fails inside a TaskGroup")
    _box(ax, 32, 47, 36, 8, "parent task: async with TaskGroup() as tg")
    children = [
        (3, "child A: await fetch()\n→ CancelledError at its await\n→ finally: cleanup runs", CANCELLED),
        (39, "child B\nraises ValueError", FAILED),
        (75, "child C: await query()\n→ CancelledError at its await\n→ finally: cleanup runs", CANCELLED),
    ]
    for x, text, color in children:
        _box(ax, x, 24, 22, 11, text, color)
        _arrow(ax, (50, 46), (x + 11, 36))
    _arrow(ax, (38, 29.5), (26, 29.5), "2. cancel()", color="#a33", label_at=(32, 33))
    _arrow(ax, (62, 29.5), (74, 29.5), "2. cancel()", color="#a33", label_at=(68, 33))
    ax.text(50, 40.5, "1. tasks created by tg.create_task(...)", ha="center", fontsize=8, color=EDGE)
    _box(
        ax,
        22,
        5,
        56,
        9,
        "3. the block waits until every child has finished (cleanups included)\n"
        "4. then raises ExceptionGroup([ValueError]) in the parent: except* ValueError",
        DATA,
    )
    _arrow(ax, (14, 23), (30, 15), dashed=True)
    _arrow(ax, (86, 23), (70, 15), dashed=True)
    _arrow(ax, (50, 23), (50, 15), dashed=True)
    ax.text(
        50,
        0.5,
        "cancelled from outside instead (a timeout around the parent)? tg cancels every child the same way, then re-raises",
        ha="center",
        fontsize=8,
        style="italic",
    )
    return _finish(fig, show)


def _lane(ax: Any, y: float, segments: Sequence[tuple[float, float, str]], label: str) -> None:
    ax.text(-1, y + 1.5, label, ha="right", va="center", fontsize=9)
    for start, length, kind in segments:
        style = {
            "run": {"fc": "#4a7ebb", "ec": "#2d5a8c"},
            "wait": {"fc": "white", "ec": "#4a7ebb", "hatch": "///"},
        }[kind]
        ax.add_patch(_rectangle(start, y, length, 3, **style))


def _rectangle(x: float, y: float, w: float, h: float, **style: Any) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, lw=1, **style)


def concurrency_vs_parallelism(*, show: bool = True) -> Any:
    """Three tasks taking turns on one thread, against two computations on two cores at once."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4), sharey=False)
    for ax, title in (
        (left, "Concurrency: one thread, tasks take turns\n(asyncio; threads under the GIL)"),
        (right, "Parallelism: computations at the same instant\n(processes on two cores)"),
    ):
        ax.set_xlim(-1, 30)
        ax.set_ylim(0, 16)
        ax.set_yticks([])
        ax.set_xlabel("time")
        ax.set_xticks([])
        ax.set_title(title, fontsize=10)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    # Each task runs a short step, then waits; only one step runs at any instant.
    _lane(
        left, 11, [(0, 2, "run"), (2, 9, "wait"), (11, 2, "run"), (13, 8, "wait"), (21, 2, "run")], "task A"
    )
    _lane(
        left, 6.5, [(2, 2, "run"), (4, 10, "wait"), (14, 2, "run"), (16, 7, "wait"), (23, 2, "run")], "task B"
    )
    _lane(
        left, 2, [(4, 2, "run"), (6, 10, "wait"), (16, 2, "run"), (18, 7, "wait"), (25, 2, "run")], "task C"
    )
    _lane(right, 9, [(0, 26, "run")], "core 1")
    _lane(right, 4, [(0, 26, "run")], "core 2")
    left.legend(
        handles=[
            Patch(fc="#4a7ebb", label="running Python"),
            Patch(fc="white", ec="#4a7ebb", hatch="///", label="waiting for I/O"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=2,
        fontsize=8,
        frameon=False,
    )
    return _finish(fig, show)


def crawler_architecture(*, show: bool = True) -> Any:
    """Notebook 12's crawler: frontier, level queue, workers in a TaskGroup, fetcher, caches, deadline."""
    fig, ax = _canvas((11, 5.8), "The crawler of notebook 12: who owns what")
    _box(ax, 1, 2, 98, 52, "", "white", linestyle="--")
    ax.text(3, 51, "asyncio.timeout(deadline)  ⟶  crawl(): one task, one TaskGroup", fontsize=9, color=EDGE)
    _box(ax, 4, 30, 22, 12, "Frontier\n(no I/O): off-site, robots.txt,\nseen at this depth?, admit()", DATA)
    _box(ax, 32, 30, 20, 12, "LevelQueue\nthis level: asyncio.Queue\nnext level: ordered dict", DATA)
    _box(ax, 58, 34, 17, 8, "worker 1 … worker N\n(tg.create_task)")
    _box(ax, 80, 30, 17, 12, "Fetcher\nper-host Semaphore\nretries, before_request\ntimeline span")
    _box(ax, 80, 6, 17, 10, "aiohttp session\n(TCPConnector limit)\n→ the site", DONE)
    _box(ax, 52, 6, 22, 10, "Redis: page cache\nPostgreSQL: results\n(namespace of notebook 12)", DONE)
    _box(
        ax,
        4,
        6,
        40,
        12,
        "crawl() waits for each level: queue.join(),\nthen opens the next; when none is left it\n"
        "cancels the idle workers, and the TaskGroup waits for them",
        STEP,
    )
    _arrow(ax, (27, 36), (31, 36), "schedule", label_at=(29, 28))
    _arrow(ax, (53, 38), (57, 38), "get()", label_at=(55, 32))
    _arrow(ax, (76, 38), (79, 38), "fetch", label_at=(77.5, 32))
    _arrow(ax, (88, 29), (88, 17))
    _arrow(ax, (66, 33), (63, 17), "cache, save", label_at=(70, 24))
    _arrow(ax, (60, 43), (15, 43), "links found → discover(url, depth)", bend=0.25, label_at=(38, 49))
    _arrow(ax, (66, 33), (42, 19), "task_done() in finally", dashed=True, label_at=(50, 25))
    return _finish(fig, show)
