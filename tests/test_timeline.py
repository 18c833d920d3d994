"""helpers.timeline: spans, overlap, lag measurement and plots that nbval can store."""

from __future__ import annotations

import asyncio
import time

import matplotlib
import pytest

from helpers.timeline import LagMonitor, Timeline, bars, plot_lag, stopwatch

matplotlib.use("Agg")


async def _three_overlapping(tl: Timeline) -> None:
    async def job(i: int) -> None:
        with tl.span(f"job {i}"):
            await asyncio.sleep(0.05)

    await asyncio.gather(*(job(i) for i in range(3)))


def test_concurrent_spans_overlap_and_sequential_ones_do_not() -> None:
    tl = Timeline()
    asyncio.run(_three_overlapping(tl))
    assert tl.peak_overlap() == 3
    seq = Timeline()
    for i in range(3):
        with seq.span(f"step {i}"):
            time.sleep(0.01)
    assert seq.peak_overlap() == 1
    assert seq.duration >= 0.03


def test_span_records_error_and_cancellation_and_reraises() -> None:
    tl = Timeline()

    async def main() -> None:
        with pytest.raises(ValueError):
            with tl.span("boom"):
                raise ValueError("x")

        async def sleeper() -> None:
            with tl.span("sleeper"):
                await asyncio.sleep(10)

        task = asyncio.create_task(sleeper())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert [s.status for s in tl.spans] == ["error", "cancelled"]


def test_track_decorator_names_span_after_the_call() -> None:
    tl = Timeline()

    @tl.track()
    async def fetch(n: int) -> int:
        return n

    assert asyncio.run(fetch(7)) == 7
    assert tl.spans[0].label == "fetch(7)"


def test_lag_monitor_sees_a_blocking_call_and_not_a_sleep() -> None:
    async def measure(blocking: bool) -> LagMonitor:
        async with LagMonitor(interval=0.01) as lag:
            if blocking:
                time.sleep(0.2)
            else:
                await asyncio.sleep(0.2)
        return lag

    blocked = asyncio.run(measure(True))
    free = asyncio.run(measure(False))
    assert blocked.max_lag > 0.15
    assert free.max_lag < blocked.max_lag / 2
    assert asyncio.run(_no_tasks_left())


async def _no_tasks_left() -> bool:
    async with LagMonitor():
        await asyncio.sleep(0.02)
    return asyncio.all_tasks() == {asyncio.current_task()}


def test_lag_monitor_passes_on_the_callers_cancellation() -> None:
    # A cancel request that reaches the task while it leaves the block is the caller's own: the
    # monitor must not swallow it along with the CancelledError of its heartbeat.
    async def leave_while_cancelled() -> str:
        async with LagMonitor():
            current = asyncio.current_task()
            assert current is not None
            current.cancel()  # delivered at the next await, which is the exit's
        return "cancellation swallowed"

    async def main() -> bool:
        task = asyncio.create_task(leave_while_cancelled())
        await asyncio.wait([task])
        return task.cancelled()

    assert asyncio.run(main())


def test_plots_draw_what_they_are_given() -> None:
    import matplotlib.pyplot as plt

    tl = Timeline()
    asyncio.run(_three_overlapping(tl))
    fig, (spans, values, lag) = plt.subplots(3)
    try:
        tl.plot("t", ax=spans, show=False)
        bars({"a": 1.0, "b": 0.1}, "bars", ax=values, show=False)
        monitor = LagMonitor()
        monitor.samples = [(0.0, 0.001), (0.1, 0.02)]
        plot_lag({"x": monitor}, "lag", ax=lag, show=False)
        assert len(spans.patches) == 3 and spans.get_title() == "t"  # one bar per span
        assert [round(p.get_width(), 3) for p in values.patches] == [1.0, 0.1]
        assert [t.get_text() for t in values.texts] == [" 1 s", " 0.1 s"]
        (line,) = lag.get_lines()
        assert list(line.get_ydata()) == [1.0, 20.0]  # lateness in ms
    finally:
        plt.close(fig)


def test_stopwatch_measures_elapsed_time() -> None:
    with stopwatch() as sw:
        time.sleep(0.02)
    assert 0.015 < sw.elapsed < 1.0


def test_plot_accepts_custom_statuses_and_colours() -> None:
    import matplotlib.colors
    import matplotlib.pyplot as plt

    tl = Timeline()
    tl.record("waiting for a connection", tl.t0, tl.t0 + 0.1, status="waiting")
    tl.record("query", tl.t0 + 0.1, tl.t0 + 0.3)
    fig, ax = plt.subplots()
    try:
        tl.plot("custom", ax=ax, show=False, colours={"waiting": "#dddddd"})
        waiting = next(p for p in ax.patches if round(p.get_width(), 2) == 0.1)
        assert matplotlib.colors.to_hex(waiting.get_facecolor()) == "#dddddd"
    finally:
        plt.close(fig)
