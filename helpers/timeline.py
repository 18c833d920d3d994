"""Record when tasks run and draw it; measure event-loop lag; time things honestly.

    tl = Timeline()

    async def fetch(i):
        with tl.span(f"fetch {i}"):
            await asyncio.sleep(0.1)

    await asyncio.gather(*(fetch(i) for i in range(3)))
    tl.plot("Three fetches overlap")      # a Gantt chart, shown with plt.show()
    assert tl.peak_overlap() == 3

    async with LagMonitor() as lag:       # a heartbeat task measuring its own lateness
        await asyncio.sleep(0.2)
    lag.plot("An idle loop answers on time")

Contract: every time comes from ``time.perf_counter()`` (never ``time.time()``: wall clocks jump),
relative to the moment the Timeline was created. Plot functions call ``plt.show()`` and return
``None``, so a notebook cell stores one PNG and one stable ``<Figure size …>`` line.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

__all__ = ["Span", "Timeline", "LagMonitor", "Stopwatch", "stopwatch", "bars", "plot_lag"]

P = ParamSpec("P")
T = TypeVar("T")

# One colour per outcome, so a cancelled sibling is visibly different from one that finished.
STATUS_COLOURS = {"ok": "#4C78A8", "error": "#E45756", "cancelled": "#BAB0AC", "running": "#F2CF5B"}


@dataclass(frozen=True)
class Span:
    """One bar of a Gantt chart: ``label`` ran from ``start`` to ``end`` (seconds since t0)."""

    label: str
    start: float
    end: float
    status: str = "ok"  # "ok" | "error" | "cancelled"
    lane: str | None = None  # spans sharing a lane share a row (e.g. one row per worker)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Timeline:
    """Collects spans; ``plot()`` draws them, ``peak_overlap()`` counts the most at once."""

    t0: float = field(default_factory=time.perf_counter)
    spans: list[Span] = field(default_factory=list)

    def now(self) -> float:
        return time.perf_counter() - self.t0

    @contextlib.contextmanager
    def span(self, label: str, *, lane: str | None = None) -> Iterator[None]:
        """Record the time spent in the ``with`` block, and whether it failed or was cancelled."""
        start = self.now()
        status = "ok"
        try:
            yield
        except asyncio.CancelledError:
            status = "cancelled"
            raise  # cancellation must propagate; we only note it
        except BaseException:
            status = "error"
            raise
        finally:
            self.spans.append(Span(label, start, self.now(), status, lane))

    def track(
        self, label: str | None = None
    ) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
        """Decorator: every call of the coroutine function becomes a span named after it."""

        def decorate(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
            @functools.wraps(func)
            async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
                name = label or func.__name__
                shown = ", ".join(map(repr, args))
                with self.span(f"{name}({shown})"):
                    return await func(*args, **kwargs)

            return wrapper

        return decorate

    def record(
        self, label: str, start: float, end: float, status: str = "ok", lane: str | None = None
    ) -> None:
        """Add a span measured elsewhere (times in perf_counter seconds, converted to this timeline)."""
        self.spans.append(Span(label, start - self.t0, end - self.t0, status, lane))

    @property
    def duration(self) -> float:
        """From the first start to the last end."""
        if not self.spans:
            return 0.0
        return max(s.end for s in self.spans) - min(s.start for s in self.spans)

    def peak_overlap(self) -> int:
        """The largest number of spans open at the same moment."""
        # Sweep line: +1 at each start, -1 at each end; ends sort before starts at equal times,
        # so back-to-back spans do not count as overlapping.
        events = sorted([(s.start, 1) for s in self.spans] + [(s.end, -1) for s in self.spans])
        peak = current = 0
        for _, step in events:
            current += step
            peak = max(peak, current)
        return peak

    def by_status(self, status: str) -> list[Span]:
        return [s for s in self.spans if s.status == status]

    def plot(
        self,
        title: str = "",
        *,
        ax: Any = None,
        show: bool = True,
        legend_loc: str = "lower right",
        colours: Mapping[str, str] | None = None,
    ) -> None:
        """Draw one row per span (or per lane), coloured by status; the legend goes to ``legend_loc``.

        ``colours`` adds or overrides status colours, e.g. ``{"waiting": "#ddd"}`` for spans recorded
        with ``record(..., status="waiting")``.
        """
        import matplotlib.pyplot as plt

        palette = {**STATUS_COLOURS, **(colours or {})}
        rows = _rows(self.spans)
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.2))
        for y, (_, spans) in enumerate(rows):
            for s in spans:
                ax.barh(y, s.duration, left=s.start, color=palette.get(s.status, "#999"), edgecolor="white")
        ax.set_yticks(range(len(rows)), [name for name, _ in rows])
        ax.invert_yaxis()  # first span on top, like reading order
        ax.set_xlabel("seconds")
        ax.set_title(title)
        present = sorted({s.status for s in self.spans})
        if len(present) > 1:
            handles = [plt.Rectangle((0, 0), 1, 1, color=palette.get(k, "#999")) for k in present]
            ax.legend(handles, present, loc=legend_loc, fontsize="small")
        _finish(show)


def _rows(spans: list[Span]) -> list[tuple[str, list[Span]]]:
    rows: dict[str, list[Span]] = {}
    for s in sorted(spans, key=lambda s: s.start):
        rows.setdefault(s.lane or s.label, []).append(s)
    return list(rows.items())


def _finish(show: bool) -> None:
    import matplotlib.pyplot as plt

    plt.tight_layout()
    if show:
        plt.show()


class LagMonitor:
    """A heartbeat task that wakes every ``interval`` seconds and records how late it woke.

    On a free loop the lateness stays near zero; a blocking call (``time.sleep``, a slow sqlite3
    query, CPU work) delays every task, the heartbeat included, and shows up as a spike.

        async with LagMonitor() as lag:
            await work()
        print(f"max lag {lag.max_lag * 1000:.0f} ms")
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (seconds since start, lateness in seconds)
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0
        self._expected = float("inf")  # when the pending heartbeat should wake

    async def __aenter__(self) -> LagMonitor:
        self._t0 = time.perf_counter()
        self._task = asyncio.create_task(self._beat(), name="lag-monitor")
        await asyncio.sleep(0)  # let the first heartbeat start before the measured work
        return self

    async def __aexit__(self, *exc: object) -> None:
        # A blocking call just before exit leaves the last heartbeat due but not yet run: record how
        # late it already is, or the worst stall of all would be missing from the samples.
        now = time.perf_counter()
        if now > self._expected:
            self.samples.append((now - self._t0, now - self._expected))
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            # The heartbeat ended because we cancelled it. If the task leaving this block is being
            # cancelled too, that CancelledError is its own: pass it on, never swallow it.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    async def _beat(self) -> None:
        while True:
            self._expected = time.perf_counter() + self.interval
            await asyncio.sleep(self.interval)
            woke = time.perf_counter()
            self.samples.append((woke - self._t0, max(0.0, woke - self._expected)))

    @property
    def max_lag(self) -> float:
        """The worst lateness seen, in seconds (0.0 if no heartbeat completed)."""
        return max((lag for _, lag in self.samples), default=0.0)

    def plot(self, title: str = "", *, ax: Any = None, label: str | None = None, show: bool = True) -> None:
        plot_lag({label or "loop lag": self}, title, ax=ax, show=show)


def plot_lag(
    monitors: Mapping[str, LagMonitor], title: str = "", *, ax: Any = None, show: bool = True
) -> None:
    """Draw several heartbeats on one chart, e.g. ``{"time.sleep": a, "asyncio.sleep": b}``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    for name, monitor in monitors.items():
        xs = [t for t, _ in monitor.samples]
        ys = [lag * 1000 for _, lag in monitor.samples]
        ax.plot(xs, ys, marker=".", label=name)
    ax.set_xlabel("seconds")
    ax.set_ylabel("heartbeat lateness (ms)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small")
    _finish(show)


def bars(
    values: Mapping[str, float], title: str = "", *, unit: str = "s", ax: Any = None, show: bool = True
) -> None:
    """A bar chart of measured figures, each bar labelled with its rounded value."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.5 * len(values) + 1.2))
    names = list(values)
    ax.barh(names, [values[n] for n in names], color="#4C78A8")
    for y, name in enumerate(names):
        ax.annotate(f" {values[name]:.3g} {unit}", (values[name], y), va="center", fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title(title)
    ax.margins(x=0.2)  # room for the labels at the end of the longest bar
    _finish(show)


@dataclass
class Stopwatch:
    """Elapsed seconds of a ``with`` block, from ``time.perf_counter()``."""

    started: float = 0.0
    elapsed: float = 0.0

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.started


def stopwatch() -> Stopwatch:
    """``with stopwatch() as sw: ...`` then ``sw.elapsed`` — works around ``await`` too."""
    return Stopwatch()
