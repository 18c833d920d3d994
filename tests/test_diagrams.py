"""The model pictures of helpers.diagrams: each draws, at a fixed size, with the labels its lesson needs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from helpers import diagrams

# A few words each picture must show: the point the notebook makes with it.
MUST_SAY = {
    "loop_turn": ["select(timeout)", "ready queue", "timers", "next await"],
    "coroutine_task_future": ["Task", "Future", "send(None)", "add_done_callback", "set_result"],
    "cancellation_in_a_task_group": ["TaskGroup", "cancel()", "ExceptionGroup", "finally"],
    "concurrency_vs_parallelism": ["Concurrency", "Parallelism", "core 2", "waiting for I/O"],
    "crawler_architecture": ["Frontier", "LevelQueue", "TaskGroup", "Semaphore", "task_done()"],
}


def _texts(fig: object) -> str:
    return "\n".join(
        text.get_text()
        for ax in fig.axes
        for text in [*ax.texts, ax.title] + (ax.get_legend().get_texts() if ax.get_legend() else [])
    )


def test_every_diagram_is_checked() -> None:
    assert set(MUST_SAY) == set(diagrams.__all__)


@pytest.mark.parametrize("name", sorted(MUST_SAY))
def test_diagram_draws_its_labels(name: str) -> None:
    fig = getattr(diagrams, name)(show=False)
    try:
        words = _texts(fig)
        missing = [w for w in MUST_SAY[name] if w not in words]
        assert not missing, f"{name} lacks {missing}"
        assert fig.get_size_inches()[0] >= 9  # legible in a notebook at its fixed size
    finally:
        plt.close(fig)


def test_show_returns_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    assert diagrams.loop_turn() is None and shown == [True]
    plt.close("all")
